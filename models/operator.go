package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Operator is a person who signs in to the console.
type Operator struct {
	ID           int64
	Login        string
	Name         string
	Email        string
	Role         Role
	PasswordHash string `json:"-"`
	DisabledAt   *time.Time
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Entitlements are loaded with the operator; they live in their own table.
	Entitlements []Entitlement `gorm:"-"`
}

// TableName tells GORM where operators live.
func (Operator) TableName() string { return "operators" }

// Disabled reports whether the operator may no longer sign in.
func (o *Operator) Disabled() bool { return o.DisabledAt != nil }

// DisplayName is the name when one is set, else the login.
func (o *Operator) DisplayName() string {
	if o.Name != "" {
		return o.Name
	}
	return o.Login
}

type operatorEntitlement struct {
	OperatorID  int64
	Entitlement Entitlement
	GrantedAt   time.Time
	GrantedBy   string
}

func (operatorEntitlement) TableName() string { return "operator_entitlements" }

// Field limits, shared by the forms and the CLI.
const (
	MaxLoginLength    = 64
	MaxNameLength     = 128
	MaxEmailLength    = 254
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

var loginPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]*$`)

// NormalizeLogin trims and lower-cases a login so that "Alice" and "alice"
// are one operator.
func NormalizeLogin(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

// OperatorInput is what creating an operator needs.
type OperatorInput struct {
	Login        string
	Name         string
	Email        string
	Role         string
	Password     string
	Entitlements []string
}

func validateLogin(v *ValidationErrors, login string) {
	switch {
	case login == "":
		v.Add("login", "enter a login")
	case utf8.RuneCountInString(login) < 2 || len(login) > MaxLoginLength:
		v.Add("login", "use at least 2 and at most %d characters", MaxLoginLength)
	case !loginPattern.MatchString(login):
		v.Add("login", "use only letters, digits, dots, dashes, underscores and @, starting with a letter or digit")
	}
}

func validateProfile(v *ValidationErrors, name, email string) {
	if utf8.RuneCountInString(name) > MaxNameLength {
		v.Add("name", "use at most %d characters", MaxNameLength)
	}
	if email != "" {
		if len(email) > MaxEmailLength {
			v.Add("email", "use at most %d characters", MaxEmailLength)
		} else if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			v.Add("email", "enter an address such as name@example.com")
		}
	}
}

// ValidatePassword checks the password policy.
func ValidatePassword(v *ValidationErrors, field, password string) {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		v.Add(field, "use at least %d characters", MinPasswordLength)
	case len(password) > MaxPasswordLength:
		v.Add(field, "use at most %d characters", MaxPasswordLength)
	}
}

func (in *OperatorInput) normalize() {
	in.Login = NormalizeLogin(in.Login)
	in.Name = strings.TrimSpace(in.Name)
	in.Email = strings.TrimSpace(in.Email)
}

func (in *OperatorInput) validate() ([]Entitlement, error) {
	var v ValidationErrors
	validateLogin(&v, in.Login)
	validateProfile(&v, in.Name, in.Email)
	if _, err := ParseRole(in.Role); err != nil {
		v.Add("role", "choose Administrator or Marketer")
	}
	ValidatePassword(&v, "password", in.Password)
	var ents []Entitlement
	for _, s := range in.Entitlements {
		e, err := ParseEntitlement(s)
		if err != nil {
			v.Add("entitlements", "unknown entitlement %q", s)
			continue
		}
		if !slices.Contains(ents, e) {
			ents = append(ents, e)
		}
	}
	return ents, v.Err()
}

// operatorSnapshot is what the audit log records of an operator: never the
// password hash.
type operatorSnapshot struct {
	Login        string        `json:"login"`
	Name         string        `json:"name,omitempty"`
	Email        string        `json:"email,omitempty"`
	Role         Role          `json:"role"`
	Disabled     bool          `json:"disabled"`
	Entitlements []Entitlement `json:"entitlements"`
}

func (o *Operator) snapshot() operatorSnapshot {
	ents := slices.Clone(o.Entitlements)
	if ents == nil {
		ents = []Entitlement{}
	}
	return operatorSnapshot{Login: o.Login, Name: o.Name, Email: o.Email, Role: o.Role, Disabled: o.Disabled(), Entitlements: ents}
}

// CreateOperator validates and stores a new operator with its entitlements,
// and records it in the audit log.
func (s *Store) CreateOperator(ctx context.Context, actor Actor, in OperatorInput) (*Operator, error) {
	in.normalize()
	ents, err := in.validate()
	if err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	op := &Operator{Login: in.Login, Name: in.Name, Email: in.Email, Role: Role(in.Role),
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = s.Tx(ctx, func(tx *Store) error {
		var taken int64
		if err := tx.q(ctx).Model(&Operator{}).Where("login = ?", op.Login).Count(&taken).Error; err != nil {
			return fmt.Errorf("check login: %w", err)
		}
		if taken > 0 {
			return &ConflictError{Field: "login", Message: fmt.Sprintf("an operator with login %q already exists", op.Login)}
		}
		if err := tx.q(ctx).Create(op).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return &ConflictError{Field: "login", Message: fmt.Sprintf("an operator with login %q already exists", op.Login)}
			}
			return fmt.Errorf("insert operator: %w", err)
		}
		for _, e := range ents {
			if err := tx.q(ctx).Create(&operatorEntitlement{OperatorID: op.ID, Entitlement: e, GrantedAt: now, GrantedBy: actor.Name}).Error; err != nil {
				return fmt.Errorf("grant %s: %w", e, err)
			}
		}
		op.Entitlements = sortEntitlements(ents)
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "operator.create", TargetType: "operator",
			TargetID: fmt.Sprint(op.ID), TargetLabel: op.Login,
			Summary: fmt.Sprintf("Created %s %s", op.Role.Label(), op.Login), After: op.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

func sortEntitlements(ents []Entitlement) []Entitlement {
	out := make([]Entitlement, 0, len(ents))
	for _, e := range Entitlements {
		if slices.Contains(ents, e) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Store) loadEntitlements(ctx context.Context, ops []*Operator) error {
	if len(ops) == 0 {
		return nil
	}
	ids := make([]int64, len(ops))
	byID := make(map[int64]*Operator, len(ops))
	for i, o := range ops {
		ids[i] = o.ID
		byID[o.ID] = o
		o.Entitlements = []Entitlement{}
	}
	var rows []operatorEntitlement
	if err := s.q(ctx).Where("operator_id IN ?", ids).Find(&rows).Error; err != nil {
		return fmt.Errorf("load entitlements: %w", err)
	}
	for _, r := range rows {
		byID[r.OperatorID].Entitlements = append(byID[r.OperatorID].Entitlements, r.Entitlement)
	}
	for _, o := range ops {
		o.Entitlements = sortEntitlements(o.Entitlements)
	}
	return nil
}

// OperatorByID loads one operator with its entitlements.
func (s *Store) OperatorByID(ctx context.Context, id int64) (*Operator, error) {
	var op Operator
	if err := s.q(ctx).First(&op, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("operator #%d", id))
	}
	if err := s.loadEntitlements(ctx, []*Operator{&op}); err != nil {
		return nil, err
	}
	return &op, nil
}

// OperatorByLogin loads one operator by login (case-insensitive).
func (s *Store) OperatorByLogin(ctx context.Context, login string) (*Operator, error) {
	var op Operator
	if err := s.q(ctx).Where("login = ?", NormalizeLogin(login)).First(&op).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("operator %q", NormalizeLogin(login)))
	}
	if err := s.loadEntitlements(ctx, []*Operator{&op}); err != nil {
		return nil, err
	}
	return &op, nil
}

// CountOperators counts every operator, disabled ones included.
func (s *Store) CountOperators(ctx context.Context) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Operator{}).Count(&n).Error
	return n, err
}

// OperatorQuery filters, sorts and pages the operators list.
type OperatorQuery struct {
	Search     string
	Role       string // "" for any
	Status     string // "", "active" or "disabled"
	Sort       string // a key of OperatorSorts
	Descending bool
	PageRequest
}

// OperatorSorts are the columns the operators list can be sorted by.
var OperatorSorts = map[string]string{
	"login":     "login",
	"name":      "name",
	"role":      "role",
	"lastLogin": "last_login_at",
	"created":   "created_at",
}

// ListOperators returns one page of operators with their entitlements.
func (s *Store) ListOperators(ctx context.Context, q OperatorQuery) (Page[*Operator], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := s.q(ctx).Model(&Operator{})
	db = matchAny(db, q.Search, "login", "name", "email")
	if q.Role != "" {
		db = db.Where("role = ?", q.Role)
	}
	switch q.Status {
	case "active":
		db = db.Where("disabled_at IS NULL")
	case "disabled":
		db = db.Where("disabled_at IS NOT NULL")
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*Operator]{}, fmt.Errorf("count operators: %w", err)
	}
	col, ok := OperatorSorts[q.Sort]
	if !ok {
		col = "login"
	}
	dir := "ASC"
	if q.Descending {
		dir = "DESC"
	}
	var ops []*Operator
	if err := db.Order(col + " " + dir).Order("id").Limit(q.PageSize).Offset(q.Offset()).Find(&ops).Error; err != nil {
		return Page[*Operator]{}, fmt.Errorf("list operators: %w", err)
	}
	if err := s.loadEntitlements(ctx, ops); err != nil {
		return Page[*Operator]{}, err
	}
	return NewPage(q.PageRequest, total, ops), nil
}

// SetEntitlement grants or revokes one entitlement. Asking for the state the
// operator is already in changes nothing and writes no audit record.
func (s *Store) SetEntitlement(ctx context.Context, actor Actor, operatorID int64, e Entitlement, granted bool) (*Operator, error) {
	if _, err := ParseEntitlement(string(e)); err != nil {
		return nil, err
	}
	var op *Operator
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if op, err = tx.OperatorByID(ctx, operatorID); err != nil {
			return err
		}
		if op.Has(e) == granted {
			return nil
		}
		before := op.snapshot()
		action, verb := "entitlement.grant", "Granted"
		if granted {
			err = tx.q(ctx).Create(&operatorEntitlement{OperatorID: op.ID, Entitlement: e, GrantedAt: tx.Now(), GrantedBy: actor.Name}).Error
			op.Entitlements = sortEntitlements(append(op.Entitlements, e))
		} else {
			action, verb = "entitlement.revoke", "Revoked"
			err = tx.q(ctx).Where("operator_id = ? AND entitlement = ?", op.ID, e).Delete(&operatorEntitlement{}).Error
			op.Entitlements = slices.DeleteFunc(op.Entitlements, func(x Entitlement) bool { return x == e })
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", strings.ToLower(verb), e, err)
		}
		if err := tx.touchOperator(ctx, op); err != nil {
			return err
		}
		prep := " to "
		if !granted {
			prep = " from "
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: action, TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: verb + " " + e.Label() + prep + op.Login, Before: before, After: op.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

func (s *Store) touchOperator(ctx context.Context, op *Operator) error {
	op.UpdatedAt = s.Now()
	if err := s.q(ctx).Model(&Operator{}).Where("id = ?", op.ID).Update("updated_at", op.UpdatedAt).Error; err != nil {
		return fmt.Errorf("update operator: %w", err)
	}
	return nil
}

// countActiveAdmins counts enabled administrators other than one.
func (s *Store) countOtherActiveAdmins(ctx context.Context, exceptID int64) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Operator{}).Where("role = ? AND disabled_at IS NULL AND id <> ?", RoleAdmin, exceptID).Count(&n).Error
	return n, err
}

// SetOperatorDisabled disables or re-enables an operator. Disabling ends the
// operator's sessions at once. The console always keeps one enabled
// administrator, and nobody disables their own account.
func (s *Store) SetOperatorDisabled(ctx context.Context, actor Actor, operatorID int64, disabled bool) (*Operator, error) {
	var op *Operator
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if op, err = tx.OperatorByID(ctx, operatorID); err != nil {
			return err
		}
		if op.Disabled() == disabled {
			return nil
		}
		if disabled {
			if actor.OperatorID != nil && *actor.OperatorID == op.ID {
				return &ConflictError{Message: "you cannot disable your own account: ask another administrator"}
			}
			if op.IsAdmin() {
				n, err := tx.countOtherActiveAdmins(ctx, op.ID)
				if err != nil {
					return fmt.Errorf("count administrators: %w", err)
				}
				if n == 0 {
					return &ConflictError{Message: op.Login + " is the last enabled administrator: enable or create another administrator first"}
				}
			}
		}
		before := op.snapshot()
		action, summary := "operator.enable", "Enabled "+op.Login
		if disabled {
			now := tx.Now()
			op.DisabledAt = &now
			action, summary = "operator.disable", "Disabled "+op.Login
		} else {
			op.DisabledAt = nil
		}
		op.UpdatedAt = tx.Now()
		if err := tx.q(ctx).Model(&Operator{}).Where("id = ?", op.ID).
			Updates(map[string]any{"disabled_at": op.DisabledAt, "updated_at": op.UpdatedAt}).Error; err != nil {
			return fmt.Errorf("update operator: %w", err)
		}
		if disabled {
			if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
				return err
			}
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: action, TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: summary, Before: before, After: op.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// OperatorUpdate is what an administrator can change on an operator's card.
type OperatorUpdate struct {
	Name  string
	Email string
	Role  string
}

// UpdateOperator changes an operator's name, e-mail and role. The last
// enabled administrator keeps the admin role.
func (s *Store) UpdateOperator(ctx context.Context, actor Actor, operatorID int64, in OperatorUpdate) (*Operator, error) {
	in.Name, in.Email = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	var v ValidationErrors
	validateProfile(&v, in.Name, in.Email)
	role, err := ParseRole(in.Role)
	if err != nil {
		v.Add("role", "choose Administrator or Marketer")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var op *Operator
	err = s.Tx(ctx, func(tx *Store) error {
		var err error
		if op, err = tx.OperatorByID(ctx, operatorID); err != nil {
			return err
		}
		if op.Name == in.Name && op.Email == in.Email && op.Role == role {
			return nil
		}
		if op.IsAdmin() && role != RoleAdmin && !op.Disabled() {
			n, err := tx.countOtherActiveAdmins(ctx, op.ID)
			if err != nil {
				return fmt.Errorf("count administrators: %w", err)
			}
			if n == 0 {
				return &ConflictError{Field: "role", Message: op.Login + " is the last enabled administrator and must keep the admin role"}
			}
		}
		before := op.snapshot()
		op.Name, op.Email, op.Role, op.UpdatedAt = in.Name, in.Email, role, tx.Now()
		if err := tx.q(ctx).Model(&Operator{}).Where("id = ?", op.ID).
			Updates(map[string]any{"name": op.Name, "email": op.Email, "role": op.Role, "updated_at": op.UpdatedAt}).Error; err != nil {
			return fmt.Errorf("update operator: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "operator.update", TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: "Updated " + op.Login, Before: before, After: op.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return op, nil
}

// SetPassword replaces an operator's password and ends all of the
// operator's sessions, so a leaked password stops working everywhere.
func (s *Store) SetPassword(ctx context.Context, actor Actor, operatorID int64, password string) error {
	var v ValidationErrors
	ValidatePassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(tx *Store) error {
		op, err := tx.OperatorByID(ctx, operatorID)
		if err != nil {
			return err
		}
		if err := tx.q(ctx).Model(&Operator{}).Where("id = ?", op.ID).
			Updates(map[string]any{"password_hash": hash, "updated_at": tx.Now()}).Error; err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "operator.password", TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: "Changed the password of " + op.Login})
	})
}
