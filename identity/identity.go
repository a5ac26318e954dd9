// Package identity holds the rules for identifiers in one place: what a
// visitor ID (ECID) and a declared ID look like, which recipient field
// reconciles with which kind of identifier, and how identifiers are
// normalised and hashed. The import and export syncs both use it, so the
// two directions always agree.
package identity

// IDType is the kind of identifier a data source carries.
type IDType string

// The identifier types of SPEC.md.
const (
	// VisitorID is an Experience Cloud visitor ID (ECID / MCID).
	VisitorID IDType = "visitorId"
	// DeclaredID is a CRM-side identifier declared under an integration code.
	DeclaredID IDType = "declaredId"
)

// Key is the recipient field an identifier reconciles with.
type Key string

// The reconciliation keys of SPEC.md.
const (
	KeyVisitorID Key = "visitorId" // any of the recipient's tracked visitor IDs
	KeyCRMID     Key = "crmId"
	KeyEmail     Key = "email"
	KeyID        Key = "id"
)

// Hash is how a data source's identifiers travel.
type Hash string

// The hash algorithms of SPEC.md.
const (
	HashNone   Hash = "none"
	HashSHA256 Hash = "sha256"
)

// AllowedKeys lists the reconciliation keys an identifier type can use:
// visitor IDs reconcile with tracked visitor IDs only, declared IDs with a
// recipient field.
func AllowedKeys(t IDType) []Key {
	switch t {
	case VisitorID:
		return []Key{KeyVisitorID}
	case DeclaredID:
		return []Key{KeyCRMID, KeyEmail, KeyID}
	}
	return nil
}
