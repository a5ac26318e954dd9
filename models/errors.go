// Package models holds the domain types of Audience Bridge and all access to
// its database. Functions take a context first; the caller that owns an
// operation opens its transaction.
package models

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned when a record asked for by its key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a change would break a uniqueness rule or the
// current state of a record forbids it.
var ErrConflict = errors.New("conflict")

// ValidationError names the input field that is wrong and says what to do.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid builds a ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidationErrors collects every problem of one form so that the operator
// can fix them all at once. It unwraps to its first error.
type ValidationErrors []*ValidationError

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.As find the first ValidationError.
func (v ValidationErrors) Unwrap() []error {
	errs := make([]error, len(v))
	for i, e := range v {
		errs[i] = e
	}
	return errs
}

// Add records a problem with a field.
func (v *ValidationErrors) Add(field, format string, args ...any) {
	*v = append(*v, &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// For returns the message for a field, or "" when the field is fine.
func (v ValidationErrors) For(field string) string {
	for _, e := range v {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Err returns nil when nothing was added, so callers can `return v.Err()`.
func (v ValidationErrors) Err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

// ConflictError explains why a change was refused because of existing state.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// AccessDenied says which role or entitlements an operator lacks for an
// action; the console shows it so the operator knows whom to ask.
type AccessDenied struct {
	Action              string
	NeedsRole           Role
	MissingEntitlements []Entitlement
}

func (e *AccessDenied) Error() string {
	var need []string
	if e.NeedsRole != "" {
		need = append(need, "the "+string(e.NeedsRole)+" role")
	}
	for _, ent := range e.MissingEntitlements {
		need = append(need, "the "+ent.Label()+" entitlement ("+string(ent)+")")
	}
	msg := "you need " + strings.Join(need, " and ")
	if e.Action != "" {
		msg += " to " + e.Action
	}
	return msg
}
