package identity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Rule is how one data source turns recipients into identifiers and back:
// the kind of identifier, the recipient field it reconciles with and how it
// travels. Import and export both go through it, so they always agree.
type Rule struct {
	IDType IDType
	Key    Key
	Hash   Hash
}

// Validate reports whether the rule is one SPEC.md allows: a known ID type,
// a reconciliation key allowed for it (AllowedKeys) and a known hash
// algorithm, hashing only declared IDs.
func (r Rule) Validate() error {
	switch r.IDType {
	case VisitorID, DeclaredID:
	default:
		return fmt.Errorf("unknown ID type %q: use %q or %q", r.IDType, VisitorID, DeclaredID)
	}
	if !keyAllowed(r.IDType, r.Key) {
		return fmt.Errorf("the reconciliation key %q cannot be used with the ID type %q: use one of %s",
			r.Key, r.IDType, keyList(AllowedKeys(r.IDType)))
	}
	switch r.Hash {
	case HashNone:
	case HashSHA256:
		if r.IDType != DeclaredID {
			return fmt.Errorf("only declared IDs can be hashed: visitor IDs travel as they are, choose the hash algorithm %q", HashNone)
		}
	default:
		return fmt.Errorf("unknown hash algorithm %q: use %q or %q", r.Hash, HashNone, HashSHA256)
	}
	return nil
}

// keyAllowed is slices.Contains(AllowedKeys(t), k) without allocating, as
// ForRecipient checks it once per recipient.
func keyAllowed(t IDType, k Key) bool {
	switch t {
	case VisitorID:
		return k == KeyVisitorID
	case DeclaredID:
		return k == KeyCRMID || k == KeyEmail || k == KeyID
	}
	return false
}

func keyList(keys []Key) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = strconv.Quote(string(k))
	}
	return strings.Join(quoted, ", ")
}

// Identifier turns a raw value (a recipient field on export, a typed value
// on import) into the identifier that travels. White space around raw is
// trimmed; a blank raw returns ok == false and no error: there is no
// identifier, so nothing is sent. Visitor IDs must pass ValidateECID;
// declared IDs must pass ValidateDeclaredID and, for a sha256 rule, are
// hashed with SHA256Hex. A sha256 rule always hashes, even a value that
// already looks like a hash (use MemberValue for those).
func (r Rule) Identifier(raw string) (id string, ok bool, err error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", false, nil
	}
	switch r.IDType {
	case VisitorID:
		if err := ValidateECID(s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case DeclaredID:
		if err := ValidateDeclaredID(s); err != nil {
			return "", false, err
		}
		if r.Hash == HashSHA256 {
			return SHA256Hex(s), true, nil
		}
		return s, true, nil
	}
	return "", false, fmt.Errorf("unknown ID type %q", r.IDType)
}

// MemberValue checks a segment member that arrives from the audience library
// and returns the value to reconcile with. For a sha256 rule the member is
// already hashed: it must be 64 hexadecimal characters and is lower-cased.
// Otherwise it is checked like Identifier. A blank member returns "" and no
// error: there is nothing to import.
func (r Rule) MemberValue(raw string) (string, error) {
	if r.Hash != HashSHA256 {
		id, _, err := r.Identifier(raw)
		return id, err
	}
	if r.IDType != DeclaredID {
		return "", fmt.Errorf("only declared IDs can be hashed, not %q", r.IDType)
	}
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", nil
	}
	if !isSHA256Hex(s) {
		return "", invalid("a hashed declared ID is 64 hexadecimal characters (SHA-256), this one is not: %s", quote(raw))
	}
	return s, nil
}

// Recipient is what the rules need to know about a recipient.
type Recipient struct {
	ID         int64
	Email      string
	CRMID      string
	VisitorIDs []string
}

// ForRecipient returns the identifiers that stand for rec under the rule:
// every tracked visitor ID for the visitorId key, else the CRM ID, e-mail
// address or decimal id (an unsaved recipient, ID 0, has none). Each goes
// through Identifier; blank and invalid values are skipped, duplicates
// dropped, order kept. An invalid rule yields nothing.
func (r Rule) ForRecipient(rec Recipient) []string {
	if r.Validate() != nil {
		return nil
	}
	var raws []string
	switch r.Key {
	case KeyVisitorID:
		raws = rec.VisitorIDs
	case KeyCRMID:
		raws = []string{rec.CRMID}
	case KeyEmail:
		raws = []string{rec.Email}
	case KeyID:
		if rec.ID > 0 {
			raws = []string{strconv.FormatInt(rec.ID, 10)}
		}
	}
	var ids []string
	for _, raw := range raws {
		id, ok, err := r.Identifier(raw)
		if err != nil || !ok || slices.Contains(ids, id) {
			// An invalid stored value is not this export's to report: the
			// recipient simply has no identifier for the data source.
			continue
		}
		ids = append(ids, id)
	}
	return ids
}
