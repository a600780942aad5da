package publish

import "testing"

func TestAtomGolden(t *testing.T) { checkGolden(t, Atom) }
