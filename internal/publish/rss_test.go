package publish

import "testing"

func TestRSSGolden(t *testing.T) { checkGolden(t, RSS) }
