package feed

import "fmt"

// Identity policies: how the items of a source are told apart (Source.Identity).
const (
	// IdentityAuto uses the upstream GUID/id, else the canonical link, else a
	// hash of title and content. A poll in which the feed gives one GUID to
	// different items is identified by link instead (see the parser).
	IdentityAuto = "auto"
	// IdentityGUID trusts the feed's GUIDs even when they repeat, and never
	// identifies an item by its link: GUID, else a hash of title and
	// content. For feeds whose items share or reuse links.
	IdentityGUID = "guid"
	// IdentityLink ignores GUIDs: canonical link, else a hash of title and
	// content. For feeds whose GUIDs change from poll to poll.
	IdentityLink = "link"
	// IdentityContent identifies an item by a hash of its title and content
	// alone; an edit makes a new item. For feeds with neither stable GUIDs
	// nor stable links.
	IdentityContent = "content"
)

// IdentityPolicies lists the policies, in the order documentation gives them.
func IdentityPolicies() []string {
	return []string{IdentityAuto, IdentityGUID, IdentityLink, IdentityContent}
}

// IdentityFor returns the key that identifies an item within its source
// under policy ("" is IdentityAuto): "id:" + the upstream id, "link:" +
// [LinkKey] of the link, or "hash:" + a SHA-256 of title and content, taken
// in the order the policy allows. The result never depends on when the
// item was fetched. An unknown policy panics: config validation rejects it.
func IdentityFor(policy, id, link, title, content string) string {
	switch policy {
	case "", IdentityAuto:
		return Identity(id, link, title, content)
	case IdentityGUID:
		return Identity(id, "", title, content)
	case IdentityLink:
		return Identity("", link, title, content)
	case IdentityContent:
		return Identity("", "", title, content)
	}
	panic(fmt.Sprintf("feed: unknown identity policy %q", policy))
}

// LinksIdentify reports whether, under policy, a source's item may be
// recognised by its canonical link when its key is new: a GUID scheme
// change, or another source's copy of the same story. Under "guid" and
// "content" links are not trusted to name one story.
func LinksIdentify(policy string) bool {
	return policy == "" || policy == IdentityAuto || policy == IdentityLink
}

// KeyRule names the rule a key was made by: "id" (upstream GUID/id),
// "link" (canonical link) or "hash" (title and content); "" for a key of
// another shape.
func KeyRule(key string) string {
	for _, r := range []string{"id", "link", "hash"} {
		if len(key) > len(r)+1 && key[:len(r)+1] == r+":" {
			return r
		}
	}
	return ""
}
