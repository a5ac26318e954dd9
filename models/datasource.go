package models

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"audiencebridge/identity"
)

// DataSource is an AMC data source: it says which kind of identifier a
// shared audience carries and which recipient field those identifiers
// reconcile with (Administration › Platform › AMC Data sources).
type DataSource struct {
	ID                 int64
	InternalName       string
	Label              string
	TargetingDimension string
	IDType             identity.IDType `gorm:"column:id_type"`
	ReconciliationKey  identity.Key
	IntegrationCode    string
	AAMDataSourceID    *int64 `gorm:"column:aam_data_source_id"`
	AAMDestinationID   *int64 `gorm:"column:aam_destination_id"`
	HashAlgorithm      identity.Hash
	Comment            string
	BuiltIn            bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// TableName tells GORM where data sources live.
func (DataSource) TableName() string { return "amc_data_sources" }

// DefaultDataSourceName is the internal name of the built-in data source
// "Recipient - Visitor ID", which always exists.
const DefaultDataSourceName = "defaultDataSource"

// TargetRecipient is the only targeting dimension: data sources reconcile
// identifiers with recipients.
const TargetRecipient = "recipient"

// DefaultIntegrationCode is the integration code Adobe declares CRM IDs
// under unless told otherwise.
const DefaultIntegrationCode = "AdobeCampaignID"

// Field limits of data sources, shared by the forms and the API.
const (
	MaxDataSourceLabelLength   = 128
	MaxInternalNameLength      = 64
	MaxIntegrationCodeLength   = 64
	MaxDataSourceCommentLength = 1000
)

var internalNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// reservedInternalNames would be hidden by the console's own pages under
// /admin/datasources.
var reservedInternalNames = []string{"new"}

// IDTypes lists the identifier types in display order.
var IDTypes = []identity.IDType{identity.VisitorID, identity.DeclaredID}

// ReconciliationKeys lists every reconciliation key in display order.
var ReconciliationKeys = []identity.Key{identity.KeyVisitorID, identity.KeyCRMID, identity.KeyEmail, identity.KeyID}

// HashAlgorithms lists the hash algorithms in display order.
var HashAlgorithms = []identity.Hash{identity.HashNone, identity.HashSHA256}

// IDTypeLabel is an identifier type's name in the console.
func IDTypeLabel(t identity.IDType) string {
	switch t {
	case identity.VisitorID:
		return "Visitor ID"
	case identity.DeclaredID:
		return "Declared ID"
	}
	return string(t)
}

// KeyLabel is a reconciliation key's name in the console.
func KeyLabel(k identity.Key) string {
	switch k {
	case identity.KeyVisitorID:
		return "Visitor IDs tracked for the recipient"
	case identity.KeyCRMID:
		return "CRM ID"
	case identity.KeyEmail:
		return "E-mail"
	case identity.KeyID:
		return "Recipient ID"
	}
	return string(k)
}

// HashLabel is a hash algorithm's name in the console.
func HashLabel(h identity.Hash) string {
	switch h {
	case identity.HashNone:
		return "None"
	case identity.HashSHA256:
		return "SHA-256"
	}
	return string(h)
}

// TargetingDimensionLabel is a targeting dimension's name in the console.
func TargetingDimensionLabel(dim string) string {
	if dim == TargetRecipient {
		return "Recipients"
	}
	return dim
}

// IDTypeLabel is the data source's identifier type for display.
func (d *DataSource) IDTypeLabel() string { return IDTypeLabel(d.IDType) }

// KeyLabel is the data source's reconciliation key for display.
func (d *DataSource) KeyLabel() string { return KeyLabel(d.ReconciliationKey) }

// HashLabel is the data source's hash algorithm for display.
func (d *DataSource) HashLabel() string { return HashLabel(d.HashAlgorithm) }

// TargetingDimensionLabel is the data source's targeting dimension for display.
func (d *DataSource) TargetingDimensionLabel() string {
	return TargetingDimensionLabel(d.TargetingDimension)
}

// Schema is the schema an activity using the data source works on, derived
// from its targeting dimension.
func (d *DataSource) Schema() string {
	if d.TargetingDimension == TargetRecipient {
		return "Recipient"
	}
	return d.TargetingDimension
}

// Rule is how the data source turns recipients into identifiers and back;
// the import and export syncs both go through it.
func (d *DataSource) Rule() identity.Rule {
	return identity.Rule{IDType: d.IDType, Key: d.ReconciliationKey, Hash: d.HashAlgorithm}
}

// Input is the data source as a form or the API would type it, to start an
// edit from.
func (d *DataSource) Input() DataSourceInput {
	return DataSourceInput{Label: d.Label, InternalName: d.InternalName, TargetingDimension: d.TargetingDimension,
		IDType: string(d.IDType), ReconciliationKey: string(d.ReconciliationKey), IntegrationCode: d.IntegrationCode,
		AAMDataSourceID: formatOptionalID(d.AAMDataSourceID), AAMDestinationID: formatOptionalID(d.AAMDestinationID),
		HashAlgorithm: string(d.HashAlgorithm), Comment: d.Comment}
}

func formatOptionalID(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// DataSourceInput is a data source as typed in the form or sent to the API:
// every value is a string so that what is wrong ("12a") can be reported.
// Field names of errors are the API's JSON names, which the form also uses.
type DataSourceInput struct {
	Label              string
	InternalName       string
	TargetingDimension string // "" means recipient
	IDType             string
	ReconciliationKey  string
	IntegrationCode    string
	AAMDataSourceID    string
	AAMDestinationID   string
	HashAlgorithm      string // "" means none
	Comment            string
}

func (in *DataSourceInput) normalize() {
	in.Label = strings.TrimSpace(in.Label)
	in.InternalName = strings.TrimSpace(in.InternalName)
	in.TargetingDimension = strings.TrimSpace(in.TargetingDimension)
	if in.TargetingDimension == "" {
		in.TargetingDimension = TargetRecipient
	}
	in.IDType = strings.TrimSpace(in.IDType)
	in.ReconciliationKey = strings.TrimSpace(in.ReconciliationKey)
	in.IntegrationCode = strings.TrimSpace(in.IntegrationCode)
	in.AAMDataSourceID = strings.TrimSpace(in.AAMDataSourceID)
	in.AAMDestinationID = strings.TrimSpace(in.AAMDestinationID)
	in.HashAlgorithm = strings.TrimSpace(in.HashAlgorithm)
	if in.HashAlgorithm == "" {
		in.HashAlgorithm = string(identity.HashNone)
	}
	in.Comment = strings.TrimSpace(in.Comment)
}

// validate checks every field and returns the data source the input
// describes (without ID, times or built-in flag) with every problem found.
func (in *DataSourceInput) validate() (*DataSource, ValidationErrors) {
	var v ValidationErrors
	ds := &DataSource{Label: in.Label, InternalName: in.InternalName, TargetingDimension: in.TargetingDimension,
		IntegrationCode: in.IntegrationCode, Comment: in.Comment}

	switch {
	case in.Label == "":
		v.Add("label", "enter a label")
	case utf8.RuneCountInString(in.Label) > MaxDataSourceLabelLength:
		v.Add("label", "use at most %d characters", MaxDataSourceLabelLength)
	}
	validateInternalName(&v, in.InternalName)
	if in.TargetingDimension != TargetRecipient {
		v.Add("targetingDimension", "choose Recipients (%s): the only targeting dimension", TargetRecipient)
	}

	idType := identity.IDType(in.IDType)
	if !slices.Contains(IDTypes, idType) {
		v.Add("idType", "choose Visitor ID (%s) or Declared ID (%s)", identity.VisitorID, identity.DeclaredID)
		idType = ""
	}
	ds.IDType = idType

	key := identity.Key(in.ReconciliationKey)
	switch allowed := identity.AllowedKeys(idType); {
	case in.ReconciliationKey == "":
		v.Add("reconciliationKey", "choose a reconciliation key")
	case idType == "" && !slices.Contains(ReconciliationKeys, key):
		v.Add("reconciliationKey", "unknown reconciliation key %q: use %s", in.ReconciliationKey, keyList(ReconciliationKeys))
	case idType != "" && !slices.Contains(allowed, key):
		v.Add("reconciliationKey", "a %s data source reconciles with %s", IDTypeLabel(idType), keyList(allowed))
	}
	ds.ReconciliationKey = key

	hash := identity.Hash(in.HashAlgorithm)
	switch {
	case !slices.Contains(HashAlgorithms, hash):
		v.Add("hashAlgorithm", "choose None (%s) or SHA-256 (%s)", identity.HashNone, identity.HashSHA256)
	case hash == identity.HashSHA256 && idType == identity.VisitorID:
		v.Add("hashAlgorithm", "only declared IDs can travel hashed: visitor IDs use None (%s)", identity.HashNone)
	}
	ds.HashAlgorithm = hash

	switch {
	case utf8.RuneCountInString(in.IntegrationCode) > MaxIntegrationCodeLength:
		v.Add("integrationCode", "use at most %d characters", MaxIntegrationCodeLength)
	case strings.Contains(in.IntegrationCode, ":"):
		v.Add("integrationCode", "remove the \":\": an integration code cannot contain one")
	case in.IntegrationCode == "" && idType == identity.DeclaredID:
		v.Add("integrationCode", "enter the integration code the declared IDs are declared under (Adobe's default is %s)", DefaultIntegrationCode)
	}

	ds.AAMDataSourceID = parseOptionalID(&v, "aamDataSourceId", in.AAMDataSourceID)
	ds.AAMDestinationID = parseOptionalID(&v, "aamDestinationId", in.AAMDestinationID)

	if utf8.RuneCountInString(in.Comment) > MaxDataSourceCommentLength {
		v.Add("comment", "use at most %d characters", MaxDataSourceCommentLength)
	}
	return ds, v
}

func validateInternalName(v *ValidationErrors, name string) {
	switch {
	case name == "":
		v.Add("internalName", "enter an internal name")
	case len(name) > MaxInternalNameLength:
		v.Add("internalName", "use at most %d characters", MaxInternalNameLength)
	case !internalNamePattern.MatchString(name):
		v.Add("internalName", "use only letters, digits and underscores, starting with a letter")
	case slices.Contains(reservedInternalNames, strings.ToLower(name)):
		v.Add("internalName", "%q is reserved by the console: choose another name", name)
	}
}

// keyList names keys for a message: "CRM ID (crmId), E-mail (email) or Recipient ID (id)".
func keyList(keys []identity.Key) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%s)", KeyLabel(k), k)
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// parseOptionalID reads an AAM identifier: empty, or a positive whole number.
func parseOptionalID(v *ValidationErrors, field, s string) *int64 {
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if !digits.MatchString(s) || err != nil {
		v.Add(field, "must be a whole number such as 1234")
		return nil
	}
	if n <= 0 {
		v.Add(field, "must be a whole number such as 1234, greater than 0")
		return nil
	}
	return &n
}

// dataSourceSnapshot is what the audit log records of a data source.
type dataSourceSnapshot struct {
	Label              string          `json:"label"`
	InternalName       string          `json:"internalName"`
	TargetingDimension string          `json:"targetingDimension"`
	IDType             identity.IDType `json:"idType"`
	ReconciliationKey  identity.Key    `json:"reconciliationKey"`
	IntegrationCode    string          `json:"integrationCode"`
	AAMDataSourceID    *int64          `json:"aamDataSourceId"`
	AAMDestinationID   *int64          `json:"aamDestinationId"`
	HashAlgorithm      identity.Hash   `json:"hashAlgorithm"`
	Comment            string          `json:"comment"`
}

func (d *DataSource) snapshot() dataSourceSnapshot {
	return dataSourceSnapshot{Label: d.Label, InternalName: d.InternalName, TargetingDimension: d.TargetingDimension,
		IDType: d.IDType, ReconciliationKey: d.ReconciliationKey, IntegrationCode: d.IntegrationCode,
		AAMDataSourceID: d.AAMDataSourceID, AAMDestinationID: d.AAMDestinationID, HashAlgorithm: d.HashAlgorithm, Comment: d.Comment}
}

// same reports whether two snapshots hold the same values.
func (a dataSourceSnapshot) same(b dataSourceSnapshot) bool {
	sameID := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	ids := sameID(a.AAMDataSourceID, b.AAMDataSourceID) && sameID(a.AAMDestinationID, b.AAMDestinationID)
	a.AAMDataSourceID, a.AAMDestinationID, b.AAMDataSourceID, b.AAMDestinationID = nil, nil, nil, nil
	return ids && a == b
}

func internalNameTaken(name string) error {
	return &ConflictError{Field: "internalName", Message: fmt.Sprintf("a data source with internal name %q already exists", name)}
}

// CreateDataSource validates and stores a new data source, and records it in
// the audit log.
func (s *Store) CreateDataSource(ctx context.Context, actor Actor, in DataSourceInput) (*DataSource, error) {
	in.normalize()
	ds, v := in.validate()
	if err := v.Err(); err != nil {
		return nil, err
	}
	ds.CreatedAt, ds.UpdatedAt = s.Now(), s.Now()
	err := s.Tx(ctx, func(tx *Store) error {
		var taken int64
		if err := tx.q(ctx).Model(&DataSource{}).Where("LOWER(internal_name) = ?", strings.ToLower(ds.InternalName)).Count(&taken).Error; err != nil {
			return fmt.Errorf("check internal name: %w", err)
		}
		if taken > 0 {
			return internalNameTaken(ds.InternalName)
		}
		if err := tx.q(ctx).Create(ds).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return internalNameTaken(ds.InternalName)
			}
			return fmt.Errorf("insert data source: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "datasource.create", TargetType: "datasource",
			TargetID: fmt.Sprint(ds.ID), TargetLabel: ds.InternalName,
			Summary: fmt.Sprintf("Created data source %s (%s)", ds.Label, ds.InternalName), After: ds.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// UpdateDataSource changes a data source. The internal name never changes
// (an empty one in the input means "unchanged"); the built-in data source
// also keeps its label, ID type and reconciliation key. Asking for what is
// already stored changes nothing and writes no audit record.
func (s *Store) UpdateDataSource(ctx context.Context, actor Actor, internalName string, in DataSourceInput) (*DataSource, error) {
	in.normalize()
	var ds *DataSource
	err := s.Tx(ctx, func(tx *Store) error {
		cur, err := tx.DataSourceByInternalName(ctx, internalName)
		if err != nil {
			return err
		}
		if in.InternalName == "" {
			in.InternalName = cur.InternalName
		}
		next, v := in.validate()
		if in.InternalName != cur.InternalName && v.For("internalName") == "" {
			v.Add("internalName", "the internal name cannot change once created: it stays %q", cur.InternalName)
		}
		if cur.BuiltIn {
			if next.Label != cur.Label && v.For("label") == "" {
				v.Add("label", "the built-in data source keeps its label %q", cur.Label)
			}
			if next.IDType != cur.IDType && v.For("idType") == "" {
				v.Add("idType", "the built-in data source keeps its ID type %s", IDTypeLabel(cur.IDType))
			}
			if next.ReconciliationKey != cur.ReconciliationKey && v.For("reconciliationKey") == "" {
				v.Add("reconciliationKey", "the built-in data source keeps its reconciliation key %s", KeyLabel(cur.ReconciliationKey))
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		next.ID, next.InternalName, next.BuiltIn, next.CreatedAt, next.UpdatedAt = cur.ID, cur.InternalName, cur.BuiltIn, cur.CreatedAt, cur.UpdatedAt
		if next.snapshot().same(cur.snapshot()) {
			ds = cur
			return nil
		}
		next.UpdatedAt = tx.Now()
		if err := tx.q(ctx).Model(&DataSource{}).Where("id = ?", cur.ID).Updates(map[string]any{
			"label": next.Label, "targeting_dimension": next.TargetingDimension, "id_type": next.IDType,
			"reconciliation_key": next.ReconciliationKey, "integration_code": next.IntegrationCode,
			"aam_data_source_id": next.AAMDataSourceID, "aam_destination_id": next.AAMDestinationID,
			"hash_algorithm": next.HashAlgorithm, "comment": next.Comment, "updated_at": next.UpdatedAt,
		}).Error; err != nil {
			return fmt.Errorf("update data source: %w", err)
		}
		ds = next
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "datasource.update", TargetType: "datasource",
			TargetID: fmt.Sprint(ds.ID), TargetLabel: ds.InternalName,
			Summary: fmt.Sprintf("Updated data source %s (%s)", ds.Label, ds.InternalName), Before: cur.snapshot(), After: ds.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// DeleteDataSource deletes a data source that nothing uses. The built-in
// data source is never deleted.
func (s *Store) DeleteDataSource(ctx context.Context, actor Actor, internalName string) error {
	return s.Tx(ctx, func(tx *Store) error {
		ds, err := tx.DataSourceByInternalName(ctx, internalName)
		if err != nil {
			return err
		}
		if ds.BuiltIn {
			return &ConflictError{Message: fmt.Sprintf("%q is the built-in data source and cannot be deleted", ds.Label)}
		}
		users, err := tx.DataSourceUsage(ctx, ds.ID)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &ConflictError{Message: inUseMessage(ds, users)}
		}
		if err := tx.q(ctx).Delete(&DataSource{}, ds.ID).Error; err != nil {
			if errors.Is(err, gorm.ErrForeignKeyViolated) {
				// A list started using it since the check above.
				return &ConflictError{Message: fmt.Sprintf("%q is in use: change or delete what uses it first", ds.Label)}
			}
			return fmt.Errorf("delete data source: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "datasource.delete", TargetType: "datasource",
			TargetID: fmt.Sprint(ds.ID), TargetLabel: ds.InternalName,
			Summary: fmt.Sprintf("Deleted data source %s (%s)", ds.Label, ds.InternalName), Before: ds.snapshot()})
	})
}

// inUseMessage says what keeps a data source from being deleted, e.g.
// `"CRM" is used by list "Summer buyers" (LST12) and 2 other lists: change or delete them first`.
func inUseMessage(ds *DataSource, users []string) string {
	msg := fmt.Sprintf("%q is used by %s", ds.Label, users[0])
	switch n := len(users) - 1; n {
	case 0:
		return msg + ": change or delete it first"
	case 1:
		return msg + " and 1 other list: change or delete them first"
	default:
		return msg + fmt.Sprintf(" and %d other lists: change or delete them first", n)
	}
}

// DataSourceUsage names what uses a data source, e.g. `list "Summer buyers"
// (LST12)`, oldest first; empty when it can be deleted.
func (s *Store) DataSourceUsage(ctx context.Context, id int64) ([]string, error) {
	var rows []struct {
		Label        string
		InternalName string
	}
	if err := s.q(ctx).Table("lists").Select("label", "internal_name").Where("data_source_id = ?", id).
		Order("id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("find lists using data source #%d: %w", id, err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("list %q (%s)", r.Label, r.InternalName)
	}
	workflows, err := s.workflowsUsing(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find workflows using data source #%d: %w", id, err)
	}
	return append(out, workflows...), nil
}

// DataSourceByInternalName loads one data source by its internal name.
func (s *Store) DataSourceByInternalName(ctx context.Context, name string) (*DataSource, error) {
	var ds DataSource
	if err := s.q(ctx).Where("internal_name = ?", name).First(&ds).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("data source %q", name))
	}
	return &ds, nil
}

// DataSourceByID loads one data source.
func (s *Store) DataSourceByID(ctx context.Context, id int64) (*DataSource, error) {
	var ds DataSource
	if err := s.q(ctx).First(&ds, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("data source #%d", id))
	}
	return &ds, nil
}

// DataSourceQuery searches, sorts and pages the data sources list.
type DataSourceQuery struct {
	Search     string
	Sort       string // a key of DataSourceSorts
	Descending bool
	PageRequest
}

// DataSourceSorts are the columns the data sources list can be sorted by.
// Data sources without an AAM data source ID come last either way.
var DataSourceSorts = map[string][]string{
	"label":              {"LOWER(label)"},
	"aamDataSourceId":    {"aam_data_source_id IS NULL", "aam_data_source_id"},
	"targetingDimension": {"targeting_dimension"},
	"reconciliationKey":  {"reconciliation_key"},
	"internalName":       {"LOWER(internal_name)"},
	"created":            {"created_at"},
}

// ListDataSources returns one page of data sources, searched over label,
// internal name and integration code.
func (s *Store) ListDataSources(ctx context.Context, q DataSourceQuery) (Page[*DataSource], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := s.q(ctx).Model(&DataSource{})
	db = matchAny(db, q.Search, "label", "internal_name", "integration_code")
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*DataSource]{}, fmt.Errorf("count data sources: %w", err)
	}
	cols, ok := DataSourceSorts[q.Sort]
	if !ok {
		cols = DataSourceSorts["label"]
	}
	for i, col := range cols {
		if q.Descending && i == len(cols)-1 {
			col += " DESC"
		}
		db = db.Order(col)
	}
	var list []*DataSource
	if err := db.Order("id").Limit(q.PageSize).Offset(q.Offset()).Find(&list).Error; err != nil {
		return Page[*DataSource]{}, fmt.Errorf("list data sources: %w", err)
	}
	return NewPage(q.PageRequest, total, list), nil
}

// DataSourceForAAM returns the AMC data source whose AAM Data source ID is
// dpid (the lowest id when several are), or ErrNotFound.
func (s *Store) DataSourceForAAM(ctx context.Context, dpid int64) (*DataSource, error) {
	var d DataSource
	if err := s.q(ctx).Where("aam_data_source_id = ?", dpid).Order("id").First(&d).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("AMC data source for AAM data source %d", dpid))
	}
	return &d, nil
}
