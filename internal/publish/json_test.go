package publish

import "testing"

func TestJSONGolden(t *testing.T) { checkGolden(t, JSON) }
