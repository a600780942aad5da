package parse

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jsonFeedStrings are the JSON Feed members whose value must be a string
// for gofeed's decoder, at the top level and in items.
var jsonFeedStrings = []string{
	"version", "title", "home_page_url", "feed_url", "description", "user_comment",
	"next_url", "icon", "favicon", "language", "url", "external_url", "content_html",
	"content_text", "summary", "image", "banner_image", "date_published", "date_modified",
}

// repairJSONFeed rewrites the off-spec member types real JSON Feeds carry
// and that fail gofeed's decoder for the whole document: tags as one
// comma-separated string, an author or attachment object where an array
// belongs, a number or object where a string belongs. It reports false when
// text is not a JSON object or there was nothing to repair. Parse calls it
// only after a first attempt failed, so good feeds are decoded once.
func repairJSONFeed(text []byte) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var top map[string]any
	if err := d.Decode(&top); err != nil || top == nil {
		return nil, false
	}
	changed := repairMembers(top)
	if items, ok := top["items"].([]any); ok {
		for i, v := range items {
			item, ok := v.(map[string]any)
			if !ok {
				items[i] = map[string]any{}
				changed = true
				continue
			}
			if repairMembers(item) {
				changed = true
			}
			switch tags := item["tags"].(type) {
			case nil:
			case []any:
				if !allStrings(tags) {
					item["tags"] = stringsOf(tags)
					changed = true
				}
			case string:
				item["tags"] = splitTags(tags)
				changed = true
			default:
				delete(item, "tags")
				changed = true
			}
		}
	} else if _, present := top["items"]; present {
		top["items"] = []any{}
		changed = true
	}
	if !changed {
		return nil, false
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil, false
	}
	return out, true
}

// repairMembers fixes the string members and the author and attachment
// lists of one object (the feed or an item).
func repairMembers(m map[string]any) bool {
	changed := false
	for _, k := range jsonFeedStrings {
		switch v := m[k].(type) {
		case nil, string:
		case json.Number:
			m[k] = v.String()
			changed = true
		default:
			delete(m, k)
			changed = true
		}
	}
	for _, k := range []string{"authors", "attachments"} {
		switch v := m[k].(type) {
		case nil:
		case map[string]any:
			m[k] = []any{v}
			changed = true
		case []any:
			kept := v[:0]
			for _, e := range v {
				if _, ok := e.(map[string]any); ok {
					kept = append(kept, e)
				}
			}
			if len(kept) != len(v) {
				m[k] = kept
				changed = true
			}
		default:
			delete(m, k)
			changed = true
		}
	}
	switch v := m["author"].(type) {
	case nil, map[string]any:
	case string:
		m["author"] = map[string]any{"name": v}
		changed = true
	default:
		delete(m, "author")
		changed = true
	}
	return changed
}

func splitTags(s string) []any {
	var out []any
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func allStrings(v []any) bool {
	for _, e := range v {
		if _, ok := e.(string); !ok {
			return false
		}
	}
	return true
}

func stringsOf(v []any) []any {
	out := make([]any, 0, len(v))
	for _, e := range v {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case json.Number:
			out = append(out, e.String())
		}
	}
	return out
}
