package publish

import "time"

// SetClock sets the clock that curation's max_age is measured against
// (time.Now by default); for tests. Call it before Configure.
func (c *Cache) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
