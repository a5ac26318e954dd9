package models

import (
	"fmt"
	"slices"
)

// Role is what an operator is in the console.
type Role string

// The roles of SPEC.md.
const (
	RoleAdmin    Role = "admin"
	RoleMarketer Role = "marketer"
)

// Roles lists every role, for forms.
var Roles = []Role{RoleAdmin, RoleMarketer}

// Label is the role's name in the console.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "Administrator"
	case RoleMarketer:
		return "Marketer"
	}
	return string(r)
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", Invalid("role", "must be %q or %q", RoleAdmin, RoleMarketer)
	}
	return r, nil
}

// Entitlement is a product right assigned to an operator by an administrator.
type Entitlement string

// The entitlements of SPEC.md.
const (
	// AudienceLibrary is Adobe's "Audience library" product assignment.
	AudienceLibrary Entitlement = "audience-library"
	// AAMAdmin is "Audience Manager administrator".
	AAMAdmin Entitlement = "aam-admin"
)

// Entitlements lists every entitlement in display order.
var Entitlements = []Entitlement{AudienceLibrary, AAMAdmin}

// Label is the entitlement's name in the console.
func (e Entitlement) Label() string {
	switch e {
	case AudienceLibrary:
		return "Audience library"
	case AAMAdmin:
		return "Audience Manager administrator"
	}
	return string(e)
}

// Purpose says what the entitlement lets an operator do.
func (e Entitlement) Purpose() string {
	switch e {
	case AudienceLibrary:
		return "browse shared audiences and export recipients to them"
	case AAMAdmin:
		return "import shared audiences as lists (together with Audience library)"
	}
	return ""
}

// ParseEntitlement validates an entitlement name.
func ParseEntitlement(s string) (Entitlement, error) {
	e := Entitlement(s)
	if !slices.Contains(Entitlements, e) {
		return "", Invalid("entitlement", "unknown entitlement %q: use %q or %q", s, AudienceLibrary, AAMAdmin)
	}
	return e, nil
}

// Has reports whether the operator holds an entitlement.
func (o *Operator) Has(e Entitlement) bool { return slices.Contains(o.Entitlements, e) }

// IsAdmin reports whether the operator has the admin role.
func (o *Operator) IsAdmin() bool { return o.Role == RoleAdmin }

// RequireAdmin refuses an operator without the admin role.
func (o *Operator) RequireAdmin(action string) error {
	if o.IsAdmin() {
		return nil
	}
	return &AccessDenied{Action: action, NeedsRole: RoleAdmin}
}

// Require refuses an operator missing any of the entitlements, naming every
// missing one so the operator can ask for all of them at once.
func (o *Operator) Require(action string, needed ...Entitlement) error {
	var missing []Entitlement
	for _, e := range needed {
		if !o.Has(e) {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &AccessDenied{Action: action, MissingEntitlements: missing}
}

// String is used in logs and audit records.
func (o *Operator) String() string { return fmt.Sprintf("%s (#%d)", o.Login, o.ID) }
