package feed

import (
	"encoding/base64"
	"strings"
)

// Ref returns the item's reference: a URL-safe string (base64url without
// padding) of its source id and key, stable for as long as the item is
// stored. Pages link to /items/{ref} and the search index uses it as the
// document id.
func (it Item) Ref() string { return ItemRef(it.SourceID, it.Key) }

// ItemRef is [Item.Ref] of the item sourceID and key name.
func ItemRef(sourceID, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(sourceID + "\x00" + key))
}

// ParseItemRef splits a reference made by ItemRef; ok is false for
// anything else.
func ParseItemRef(ref string) (sourceID, key string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(ref)
	if err != nil {
		return "", "", false
	}
	sourceID, key, ok = strings.Cut(string(b), "\x00")
	return sourceID, key, ok && sourceID != "" && key != ""
}
