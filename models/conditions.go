package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Condition is one condition of a Query activity, as SPEC.md names it:
// {"field","op","value"}.
type Condition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Conditions are AND-ed.
type Conditions []Condition

// MaxConditions caps the conditions of one query.
const MaxConditions = 20

// MaxConditionValueLength caps a condition's value.
const MaxConditionValueLength = 256

// The fields a condition can test, in display order.
var ConditionFields = []string{"email", "firstName", "lastName", "crmId", "visitorId", "createdAt", "list"}

// FieldLabel names a field in the query editor.
func FieldLabel(field string) string {
	switch field {
	case "email":
		return "E-mail"
	case "firstName":
		return "First name"
	case "lastName":
		return "Last name"
	case "crmId":
		return "CRM ID"
	case "visitorId":
		return "Visitor ID"
	case "createdAt":
		return "Created"
	case "list":
		return "List"
	}
	return field
}

var textOps = []string{"equals", "notEquals", "contains", "startsWith", "endsWith", "isEmpty", "isNotEmpty"}

// OpsFor are the operators a field takes.
func OpsFor(field string) []string {
	switch field {
	case "createdAt":
		return []string{"before", "after"}
	case "list":
		return []string{"inList", "notInList"}
	case "email", "firstName", "lastName", "crmId", "visitorId":
		return textOps
	}
	return nil
}

// OpLabel names an operator in the query editor.
func OpLabel(op string) string {
	switch op {
	case "equals":
		return "is"
	case "notEquals":
		return "is not"
	case "contains":
		return "contains"
	case "startsWith":
		return "starts with"
	case "endsWith":
		return "ends with"
	case "isEmpty":
		return "is empty"
	case "isNotEmpty":
		return "is not empty"
	case "before":
		return "is before"
	case "after":
		return "is on or after"
	case "inList":
		return "is in"
	case "notInList":
		return "is not in"
	}
	return op
}

// NeedsValue reports whether an operator takes a value.
func NeedsValue(op string) bool { return op != "isEmpty" && op != "isNotEmpty" }

// conditionDate reads a date condition's value: YYYY-MM-DD (UTC midnight) or
// RFC 3339.
func conditionDate(v string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.RFC3339, v)
}

// ParseConditions reads a query's conditions from JSON.
func ParseConditions(raw string) (Conditions, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var c Conditions
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, Invalid("conditions", "the conditions are not valid JSON: %v", err)
	}
	return c, nil
}

// JSON is the conditions as stored.
func (c Conditions) JSON() string {
	if len(c) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(c) // plain strings always marshal
	return string(b)
}

// Validate checks every condition, naming the first bad one by its
// position: "condition 2: …". Lists are checked to exist.
func (s *Store) ValidateConditions(ctx context.Context, c Conditions) error {
	if len(c) > MaxConditions {
		return Invalid("conditions", "use at most %d conditions", MaxConditions)
	}
	for i := range c {
		cond := &c[i]
		cond.Field, cond.Op, cond.Value = strings.TrimSpace(cond.Field), strings.TrimSpace(cond.Op), strings.TrimSpace(cond.Value)
		where := fmt.Sprintf("condition %d", i+1)
		ops := OpsFor(cond.Field)
		if ops == nil {
			return Invalid("conditions", "%s: unknown field %q: use one of %s", where, cond.Field, strings.Join(ConditionFields, ", "))
		}
		known := false
		for _, op := range ops {
			known = known || op == cond.Op
		}
		if !known {
			return Invalid("conditions", "%s: the field %s takes the operators %s, not %q", where, cond.Field, strings.Join(ops, ", "), cond.Op)
		}
		if !NeedsValue(cond.Op) {
			cond.Value = ""
			continue
		}
		if cond.Value == "" {
			return Invalid("conditions", "%s: enter a value for %s %s", where, FieldLabel(cond.Field), OpLabel(cond.Op))
		}
		if utf8.RuneCountInString(cond.Value) > MaxConditionValueLength {
			return Invalid("conditions", "%s: the value has more than %d characters", where, MaxConditionValueLength)
		}
		switch cond.Field {
		case "createdAt":
			if _, err := conditionDate(cond.Value); err != nil {
				return Invalid("conditions", "%s: %q is not a date: use YYYY-MM-DD", where, cond.Value)
			}
		case "list":
			id, err := strconv.ParseInt(cond.Value, 10, 64)
			if err != nil || id <= 0 {
				return Invalid("conditions", "%s: %q is not a list id: choose a list", where, cond.Value)
			}
			var n int64
			if err := s.q(ctx).Model(&List{}).Where("id = ?", id).Count(&n).Error; err != nil {
				return fmt.Errorf("check the list of %s: %w", where, err)
			}
			if n == 0 {
				return Invalid("conditions", "%s: list #%d does not exist (any more): choose another list", where, id)
			}
		}
	}
	return nil
}

var conditionColumns = map[string]string{"email": "recipients.email", "firstName": "recipients.first_name",
	"lastName": "recipients.last_name", "crmId": "recipients.crm_id", "createdAt": "recipients.created_at"}

// apply adds the conditions to a query on recipients as parameterised SQL:
// columns come from a fixed table, values are always arguments. Call it on
// validated conditions only.
func (c Conditions) apply(db *gorm.DB) *gorm.DB {
	for _, cond := range c {
		switch cond.Field {
		case "visitorId":
			expr, args := visitorCondition(cond)
			db = db.Where(expr, args...)
		case "list":
			id, _ := strconv.ParseInt(cond.Value, 10, 64)
			sub := "EXISTS (SELECT 1 FROM list_members lm WHERE lm.recipient_id = recipients.id AND lm.list_id = ?)"
			if cond.Op == "notInList" {
				sub = "NOT " + sub
			}
			db = db.Where(sub, id)
		case "createdAt":
			t, _ := conditionDate(cond.Value)
			if cond.Op == "before" {
				db = db.Where("recipients.created_at < ?", t)
			} else {
				db = db.Where("recipients.created_at >= ?", t)
			}
		default:
			expr, args := textCondition(conditionColumns[cond.Field], cond)
			db = db.Where(expr, args...)
		}
	}
	return db
}

// textCondition compares a text column without regard to case; a NULL is
// empty.
func textCondition(col string, cond Condition) (string, []any) {
	v := strings.ToLower(cond.Value)
	like := func(pattern string) (string, []any) {
		return "LOWER(COALESCE(" + col + ", '')) LIKE ? ESCAPE '\\'", []any{pattern}
	}
	switch cond.Op {
	case "equals":
		return "LOWER(COALESCE(" + col + ", '')) = ?", []any{v}
	case "notEquals":
		return "LOWER(COALESCE(" + col + ", '')) <> ?", []any{v}
	case "contains":
		return like("%" + likeEscape(v) + "%")
	case "startsWith":
		return like(likeEscape(v) + "%")
	case "endsWith":
		return like("%" + likeEscape(v))
	case "isEmpty":
		return "COALESCE(" + col + ", '') = ''", nil
	}
	return "COALESCE(" + col + ", '') <> ''", nil // isNotEmpty
}

// visitorCondition tests the recipient's tracked visitor IDs: "is" means one
// of them is, "is not" that none is.
func visitorCondition(cond Condition) (string, []any) {
	const exists = "EXISTS (SELECT 1 FROM recipient_visitor_ids v WHERE v.recipient_id = recipients.id"
	switch cond.Op {
	case "isEmpty":
		return "NOT " + exists + ")", nil
	case "isNotEmpty":
		return exists + ")", nil
	case "notEquals":
		return "NOT " + exists + " AND v.visitor_id = ?)", []any{cond.Value}
	case "equals":
		return exists + " AND v.visitor_id = ?)", []any{cond.Value}
	}
	expr, args := textCondition("v.visitor_id", cond)
	return exists + " AND " + expr + ")", args
}

// TargetQuery is the recipients a query targets, as a query that can be
// counted, paged or used as a subquery.
func (s *Store) TargetQuery(ctx context.Context, c Conditions) *gorm.DB {
	return c.apply(s.q(ctx).Model(&Recipient{}))
}

// CountTargets counts the recipients the conditions target.
func (s *Store) CountTargets(ctx context.Context, c Conditions) (int64, error) {
	if err := s.ValidateConditions(ctx, c); err != nil {
		return 0, err
	}
	var n int64
	if err := s.TargetQuery(ctx, c).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count the targeted recipients: %w", err)
	}
	return n, nil
}

// PreviewTargets returns the first targeted recipients, by e-mail.
func (s *Store) PreviewTargets(ctx context.Context, c Conditions, n int) ([]*Recipient, error) {
	if err := s.ValidateConditions(ctx, c); err != nil {
		return nil, err
	}
	var out []*Recipient
	if err := s.TargetQuery(ctx, c).Order("recipients.email").Limit(n).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("preview the targeted recipients: %w", err)
	}
	return out, nil
}
