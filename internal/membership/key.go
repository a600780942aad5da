package membership

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// formatVersion is part of every index key: raise it when what an index
// holds, or how it is cut, changes, and every index is built again.
const formatVersion = 1

// Key returns the name of the index that holds the membership of ch: a
// hash of everything membership depends on, and nothing else (not the
// channel's id, title, description or limit, not where a rule was written),
// so that channels with the same definition share one index, a restart
// with an unchanged config finds its indexes built, and instances with the
// same config share them.
func Key(ch feed.Channel, sources []feed.Source, pageSize int) string {
	type rule struct {
		F, P string
		R    bool
	}
	type curation struct {
		Include, Exclude []rule
		Languages, Hide  []string
		MaxAge           time.Duration
	}
	type source struct {
		ID    string
		C     curation
		Limit int
	}
	conv := func(c feed.Curation) curation {
		rs := func(in []feed.Rule) []rule {
			var out []rule
			for _, r := range in {
				f := r.Field
				if f == "" {
					f = feed.FieldText
				}
				out = append(out, rule{f, r.Pattern, r.Regexp})
			}
			return out
		}
		return curation{Include: rs(c.Include), Exclude: rs(c.Exclude), Languages: c.Languages, Hide: c.Hide, MaxAge: c.MaxAge}
	}
	def := struct {
		V, Page int
		C       curation
		Pins    []string
		Sources []source // selected, by id
		Hides   []source // every source's hide list, by id
	}{V: formatVersion, Page: pageSize, C: conv(ch.Curation), Pins: ch.Pin}
	for _, s := range sources {
		if ch.Selects(s) {
			def.Sources = append(def.Sources, source{ID: s.ID, C: conv(s.Curation), Limit: s.Limit})
		}
		if len(s.Curation.Hide) > 0 {
			def.Hides = append(def.Hides, source{ID: s.ID, C: curation{Hide: s.Curation.Hide}})
		}
	}
	byID := func(a, b source) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(def.Sources, byID)
	def.Sources = slices.CompactFunc(def.Sources, func(a, b source) bool { return a.ID == b.ID })
	slices.SortFunc(def.Hides, byID)
	b, _ := json.Marshal(def) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
