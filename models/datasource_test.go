package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"audiencebridge/identity"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// crmInput is a valid declared-ID data source.
func crmInput(name string) models.DataSourceInput {
	return models.DataSourceInput{Label: "Recipient - CRM ID", InternalName: name, IDType: "declaredId",
		ReconciliationKey: "crmId", IntegrationCode: "AdobeCampaignID", AAMDataSourceID: "1234", HashAlgorithm: "sha256"}
}

// insertList adds a list that uses a data source: lists have no store
// methods yet, so the row goes in through the connection pool.
func insertList(t *testing.T, s *models.Store, label, name string, dataSourceID int64) {
	t.Helper()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO lists (label, internal_name, type, data_source_id, created_at, updated_at)
		VALUES ($1, $2, 'sharedAudience', $3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, label, name, dataSourceID); err != nil {
		t.Fatalf("insert list %s: %v", name, err)
	}
}

func auditActions(t *testing.T, s *models.Store, id int64) []string {
	t.Helper()
	page, err := s.ListAudit(context.Background(), models.AuditQuery{TargetType: "datasource", TargetID: fmt.Sprint(id)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		out = append(out, e.Action)
	}
	return out
}

func TestBuiltInDataSourceExists(t *testing.T) {
	s := dbtest.New(t)
	ds, err := s.DataSourceByInternalName(context.Background(), models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.BuiltIn || ds.Label != "Recipient - Visitor ID" || ds.IDType != identity.VisitorID ||
		ds.ReconciliationKey != identity.KeyVisitorID || ds.HashAlgorithm != identity.HashNone {
		t.Fatalf("built-in = %+v", ds)
	}
	if ds.TargetingDimensionLabel() != "Recipients" || ds.Schema() != "Recipient" || ds.IDTypeLabel() != "Visitor ID" ||
		ds.KeyLabel() != "Visitor IDs tracked for the recipient" || ds.HashLabel() != "None" {
		t.Fatalf("labels = %q %q %q %q %q", ds.TargetingDimensionLabel(), ds.Schema(), ds.IDTypeLabel(), ds.KeyLabel(), ds.HashLabel())
	}
	byID, err := s.DataSourceByID(context.Background(), ds.ID)
	if err != nil || byID.InternalName != ds.InternalName {
		t.Fatalf("by id = %+v %v", byID, err)
	}
	if _, err := s.DataSourceByInternalName(context.Background(), "nothing"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown = %v", err)
	}
}

func TestCreateDataSourceValidates(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	with := func(f func(*models.DataSourceInput)) models.DataSourceInput {
		in := crmInput("crm")
		f(&in)
		return in
	}
	cases := []struct {
		name  string
		in    models.DataSourceInput
		field string
		says  string
	}{
		{"no label", with(func(in *models.DataSourceInput) { in.Label = "  " }), "label", "enter a label"},
		{"long label", with(func(in *models.DataSourceInput) { in.Label = strings.Repeat("é", 129) }), "label", "at most 128"},
		{"no internal name", with(func(in *models.DataSourceInput) { in.InternalName = "" }), "internalName", "enter an internal name"},
		{"internal name with digit first", with(func(in *models.DataSourceInput) { in.InternalName = "1crm" }), "internalName", "starting with a letter"},
		{"internal name with dash", with(func(in *models.DataSourceInput) { in.InternalName = "crm-id" }), "internalName", "letters, digits and underscores"},
		{"long internal name", with(func(in *models.DataSourceInput) { in.InternalName = "a" + strings.Repeat("b", 64) }), "internalName", "at most 64"},
		{"reserved internal name", with(func(in *models.DataSourceInput) { in.InternalName = "New" }), "internalName", "reserved"},
		{"bad dimension", with(func(in *models.DataSourceInput) { in.TargetingDimension = "visitor" }), "targetingDimension", "Recipients"},
		{"bad id type", with(func(in *models.DataSourceInput) { in.IDType = "cookie" }), "idType", "Visitor ID"},
		{"no key", with(func(in *models.DataSourceInput) { in.ReconciliationKey = "" }), "reconciliationKey", "choose"},
		{"unknown key", with(func(in *models.DataSourceInput) { in.ReconciliationKey = "phone" }), "reconciliationKey", "CRM ID (crmId), E-mail (email) or Recipient ID (id)"},
		{"visitor key for declared IDs", with(func(in *models.DataSourceInput) { in.ReconciliationKey = "visitorId" }), "reconciliationKey", "CRM ID (crmId), E-mail (email) or Recipient ID (id)"},
		{"crm key for visitor IDs", with(func(in *models.DataSourceInput) { in.IDType, in.HashAlgorithm = "visitorId", "none" }), "reconciliationKey", "Visitor IDs tracked for the recipient (visitorId)"},
		{"bad hash", with(func(in *models.DataSourceInput) { in.HashAlgorithm = "md5" }), "hashAlgorithm", "SHA-256"},
		{"hashed visitor IDs", with(func(in *models.DataSourceInput) { in.IDType, in.ReconciliationKey = "visitorId", "visitorId" }), "hashAlgorithm", "only declared IDs"},
		{"no integration code for declared IDs", with(func(in *models.DataSourceInput) { in.IntegrationCode = "" }), "integrationCode", "AdobeCampaignID"},
		{"integration code with colon", with(func(in *models.DataSourceInput) { in.IntegrationCode = "crm:1" }), "integrationCode", ":"},
		{"long integration code", with(func(in *models.DataSourceInput) { in.IntegrationCode = strings.Repeat("c", 65) }), "integrationCode", "at most 64"},
		{"AAM data source ID with letters", with(func(in *models.DataSourceInput) { in.AAMDataSourceID = "12a" }), "aamDataSourceId", "must be a whole number such as 1234"},
		{"fractional AAM data source ID", with(func(in *models.DataSourceInput) { in.AAMDataSourceID = "12.5" }), "aamDataSourceId", "must be a whole number such as 1234"},
		{"zero AAM data source ID", with(func(in *models.DataSourceInput) { in.AAMDataSourceID = "0" }), "aamDataSourceId", "greater than 0"},
		{"negative AAM destination ID", with(func(in *models.DataSourceInput) { in.AAMDestinationID = "-3" }), "aamDestinationId", "must be a whole number such as 1234"},
		{"huge AAM destination ID", with(func(in *models.DataSourceInput) { in.AAMDestinationID = "99999999999999999999" }), "aamDestinationId", "must be a whole number such as 1234"},
		{"long comment", with(func(in *models.DataSourceInput) { in.Comment = strings.Repeat("c", 1001) }), "comment", "at most 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateDataSource(ctx, cli, tc.in)
			var v models.ValidationErrors
			if !errors.As(err, &v) || !strings.Contains(v.For(tc.field), tc.says) {
				t.Fatalf("err = %v, want %q on %s", err, tc.says, tc.field)
			}
			if len(v) != 1 {
				t.Fatalf("one bad field reported as %d problems: %v", len(v), v)
			}
		})
	}
	// Every problem is reported at once.
	_, err := s.CreateDataSource(ctx, cli, models.DataSourceInput{InternalName: "9", IDType: "x", ReconciliationKey: "y",
		HashAlgorithm: "z", IntegrationCode: "a:b", AAMDataSourceID: "one", AAMDestinationID: "1.5"})
	var v models.ValidationErrors
	if !errors.As(err, &v) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"label", "internalName", "idType", "reconciliationKey", "hashAlgorithm", "integrationCode", "aamDataSourceId", "aamDestinationId"} {
		if v.For(f) == "" {
			t.Errorf("no problem reported for %s in %v", f, v)
		}
	}
	page, err := s.ListDataSources(ctx, models.DataSourceQuery{})
	if err != nil || page.Total != 1 {
		t.Fatalf("invalid input created data sources: %d %v", page.Total, err)
	}
	if audit, _ := s.ListAudit(ctx, models.AuditQuery{}); audit.Total != 0 {
		t.Fatalf("invalid input wrote %d audit records", audit.Total)
	}
}

func TestCreateDataSource(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	admin := mustCreate(t, s, "root", models.RoleAdmin)
	in := crmInput(" crmSource ")
	in.AAMDestinationID = " 42 "
	in.Comment = "  CRM IDs, hashed  "
	ds, err := s.CreateDataSource(ctx, models.ActorOf(admin), in)
	if err != nil {
		t.Fatal(err)
	}
	if ds.ID == 0 || ds.InternalName != "crmSource" || ds.TargetingDimension != "recipient" || ds.IDType != identity.DeclaredID ||
		ds.ReconciliationKey != identity.KeyCRMID || ds.HashAlgorithm != identity.HashSHA256 || ds.Comment != "CRM IDs, hashed" ||
		ds.AAMDataSourceID == nil || *ds.AAMDataSourceID != 1234 || ds.AAMDestinationID == nil || *ds.AAMDestinationID != 42 || ds.BuiltIn {
		t.Fatalf("created = %+v", ds)
	}
	got, err := s.DataSourceByInternalName(ctx, "crmSource")
	if err != nil || got.Input() != ds.Input() {
		t.Fatalf("reloaded = %+v %v", got, err)
	}
	if rule := got.Rule(); rule != (identity.Rule{IDType: identity.DeclaredID, Key: identity.KeyCRMID, Hash: identity.HashSHA256}) || rule.Validate() != nil {
		t.Fatalf("rule = %+v (%v)", rule, rule.Validate())
	}
	if got.HashLabel() != "SHA-256" || got.KeyLabel() != "CRM ID" || got.IDTypeLabel() != "Declared ID" {
		t.Fatalf("labels = %q %q %q", got.HashLabel(), got.KeyLabel(), got.IDTypeLabel())
	}
	// Visitor-ID data sources need no integration code; the hash defaults to none.
	vis, err := s.CreateDataSource(ctx, cli, models.DataSourceInput{Label: "Web visitors", InternalName: "webVisitors",
		IDType: "visitorId", ReconciliationKey: "visitorId"})
	if err != nil || vis.HashAlgorithm != identity.HashNone || vis.AAMDataSourceID != nil {
		t.Fatalf("visitor data source = %+v %v", vis, err)
	}

	_, err = s.CreateDataSource(ctx, cli, crmInput("CRMSOURCE"))
	var conflict *models.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "internalName" || !strings.Contains(conflict.Message, "already exists") {
		t.Fatalf("duplicate = %v", err)
	}

	page, err := s.ListAudit(ctx, models.AuditQuery{TargetType: "datasource", TargetID: fmt.Sprint(ds.ID)})
	if err != nil || page.Total != 1 {
		t.Fatalf("audit = %d %v", page.Total, err)
	}
	ev := page.Items[0]
	if ev.Action != "datasource.create" || ev.Actor != "root" || ev.ActorID == nil || *ev.ActorID != admin.ID ||
		!strings.Contains(ev.AfterJSON, `"aamDataSourceId":1234`) || ev.BeforeJSON != "" {
		t.Fatalf("audit event = %+v", ev)
	}
}

func TestUpdateDataSource(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	ds, err := s.CreateDataSource(ctx, cli, crmInput("crm"))
	if err != nil {
		t.Fatal(err)
	}
	in := ds.Input()
	in.Label, in.ReconciliationKey, in.AAMDataSourceID, in.HashAlgorithm = "CRM by e-mail", "email", "", "none"
	up, err := s.UpdateDataSource(ctx, cli, "crm", in)
	if err != nil {
		t.Fatal(err)
	}
	if up.Label != "CRM by e-mail" || up.ReconciliationKey != identity.KeyEmail || up.AAMDataSourceID != nil ||
		up.HashAlgorithm != identity.HashNone || up.UpdatedAt.Before(ds.UpdatedAt) {
		t.Fatalf("updated = %+v", up)
	}
	got, _ := s.DataSourceByInternalName(ctx, "crm")
	if got.Input() != up.Input() {
		t.Fatalf("stored %+v, answered %+v", got.Input(), up.Input())
	}
	// The same values again change nothing and write nothing.
	if _, err := s.UpdateDataSource(ctx, cli, "crm", got.Input()); err != nil {
		t.Fatal(err)
	}
	// An empty internal name means "unchanged".
	in = got.Input()
	in.InternalName = ""
	if _, err := s.UpdateDataSource(ctx, cli, "crm", in); err != nil {
		t.Fatal(err)
	}
	if got := auditActions(t, s, ds.ID); !slices.Equal(got, []string{"datasource.update", "datasource.create"}) {
		t.Fatalf("audit = %v", got)
	}
	page, _ := s.ListAudit(ctx, models.AuditQuery{TargetType: "datasource", TargetID: fmt.Sprint(ds.ID)})
	changes := map[string]models.AuditChange{}
	for _, ch := range page.Items[0].Changes() {
		changes[ch.Field] = ch
	}
	if changes["label"].Before != "Recipient - CRM ID" || changes["label"].After != "CRM by e-mail" ||
		changes["aamDataSourceId"].Before != "1234" || changes["aamDataSourceId"].After != "" || len(changes) != 4 {
		t.Fatalf("changes = %+v", changes)
	}

	// The internal name is immutable, and every other problem is reported with it.
	in = got.Input()
	in.InternalName, in.AAMDestinationID = "crm2", "x"
	_, err = s.UpdateDataSource(ctx, cli, "crm", in)
	var v models.ValidationErrors
	if !errors.As(err, &v) || !strings.Contains(v.For("internalName"), "cannot change") || v.For("aamDestinationId") == "" {
		t.Fatalf("rename = %v", err)
	}
	if _, err := s.DataSourceByInternalName(ctx, "crm"); err != nil {
		t.Fatalf("refused rename lost the data source: %v", err)
	}
	if _, err := s.UpdateDataSource(ctx, cli, "nothing", in); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown = %v", err)
	}
}

func TestBuiltInDataSourceIsProtected(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	def, err := s.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DeleteDataSource(ctx, cli, models.DefaultDataSourceName)
	var conflict *models.ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(conflict.Message, "built-in") {
		t.Fatalf("delete built-in = %v", err)
	}
	in := def.Input()
	in.Label, in.IDType, in.ReconciliationKey, in.IntegrationCode = "Renamed", "declaredId", "crmId", "AdobeCampaignID"
	_, err = s.UpdateDataSource(ctx, cli, models.DefaultDataSourceName, in)
	var v models.ValidationErrors
	if !errors.As(err, &v) {
		t.Fatalf("change built-in = %v", err)
	}
	for _, f := range []string{"label", "idType", "reconciliationKey"} {
		if !strings.Contains(v.For(f), "built-in") {
			t.Errorf("%s: %q", f, v.For(f))
		}
	}
	in = def.Input()
	in.InternalName = "renamed"
	if _, err := s.UpdateDataSource(ctx, cli, models.DefaultDataSourceName, in); !errors.As(err, &v) || v.For("internalName") == "" {
		t.Fatalf("rename built-in = %v", err)
	}
	// Its AAM IDs, integration code and comment may change.
	in = def.Input()
	in.AAMDataSourceID, in.AAMDestinationID, in.IntegrationCode, in.Comment = "77", "88", "ECID", "Ours."
	up, err := s.UpdateDataSource(ctx, cli, models.DefaultDataSourceName, in)
	if err != nil || *up.AAMDataSourceID != 77 || *up.AAMDestinationID != 88 || up.IntegrationCode != "ECID" || up.Comment != "Ours." || !up.BuiltIn {
		t.Fatalf("update built-in = %+v %v", up, err)
	}
	if got := auditActions(t, s, def.ID); !slices.Equal(got, []string{"datasource.update"}) {
		t.Fatalf("audit = %v", got)
	}
}

func TestDataSourceInUseIsNotDeleted(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	ds, err := s.CreateDataSource(ctx, cli, crmInput("crm"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateDataSource(ctx, cli, crmInput("unused"))
	if err != nil {
		t.Fatal(err)
	}
	if users, err := s.DataSourceUsage(ctx, ds.ID); err != nil || len(users) != 0 {
		t.Fatalf("usage before lists = %v %v", users, err)
	}
	insertList(t, s, "Summer buyers", "LST12", ds.ID)
	users, err := s.DataSourceUsage(ctx, ds.ID)
	if err != nil || !slices.Equal(users, []string{`list "Summer buyers" (LST12)`}) {
		t.Fatalf("usage = %v %v", users, err)
	}
	err = s.DeleteDataSource(ctx, cli, "crm")
	var conflict *models.ConflictError
	if !errors.As(err, &conflict) || !strings.HasSuffix(conflict.Message, `used by list "Summer buyers" (LST12): change or delete it first`) {
		t.Fatalf("delete in use = %v", err)
	}
	insertList(t, s, "Winter buyers", "LST13", ds.ID)
	insertList(t, s, "Spring buyers", "LST14", ds.ID)
	err = s.DeleteDataSource(ctx, cli, "crm")
	if !errors.As(err, &conflict) || !strings.Contains(conflict.Message, `used by list "Summer buyers" (LST12) and 2 other lists: change or delete them first`) {
		t.Fatalf("delete in use by 3 = %v", err)
	}
	if _, err := s.DataSourceByInternalName(ctx, "crm"); err != nil {
		t.Fatalf("refused delete removed it: %v", err)
	}
	if err := s.DeleteDataSource(ctx, cli, "unused"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DataSourceByID(ctx, other.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deleted data source still there: %v", err)
	}
	if got := auditActions(t, s, other.ID); !slices.Equal(got, []string{"datasource.delete", "datasource.create"}) {
		t.Fatalf("audit = %v", got)
	}
	if got := auditActions(t, s, ds.ID); !slices.Equal(got, []string{"datasource.create"}) {
		t.Fatalf("refused deletes were audited: %v", got)
	}
	if err := s.DeleteDataSource(ctx, cli, "unused"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("delete twice = %v", err)
	}
}

func TestListDataSources(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	for i, name := range []string{"beta", "alpha", "gamma"} {
		in := crmInput(name)
		in.Label = strings.ToUpper(name[:1]) + name[1:]
		in.AAMDataSourceID = fmt.Sprint(30 - i)
		if name == "gamma" {
			in.AAMDataSourceID, in.IntegrationCode = "", "Loyalty_100%"
		}
		if _, err := s.CreateDataSource(ctx, cli, in); err != nil {
			t.Fatal(err)
		}
	}
	names := func(q models.DataSourceQuery) []string {
		t.Helper()
		page, err := s.ListDataSources(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range page.Items {
			out = append(out, d.InternalName)
		}
		return out
	}
	if got := names(models.DataSourceQuery{}); !slices.Equal(got, []string{"alpha", "beta", "gamma", "defaultDataSource"}) {
		t.Fatalf("by label = %v", got)
	}
	if got := names(models.DataSourceQuery{Sort: "aamDataSourceId"}); !slices.Equal(got[:2], []string{"alpha", "beta"}) {
		t.Fatalf("by AAM ID = %v", got)
	}
	if got := names(models.DataSourceQuery{Sort: "aamDataSourceId", Descending: true}); !slices.Equal(got[:2], []string{"beta", "alpha"}) {
		t.Fatalf("by AAM ID descending = %v", got)
	}
	if got := names(models.DataSourceQuery{Sort: "internalName", Descending: true}); !slices.Equal(got, []string{"gamma", "defaultDataSource", "beta", "alpha"}) {
		t.Fatalf("by internal name descending = %v", got)
	}
	if got := names(models.DataSourceQuery{Search: "ALP"}); !slices.Equal(got, []string{"alpha"}) {
		t.Fatalf("search label = %v", got)
	}
	if got := names(models.DataSourceQuery{Search: "default"}); !slices.Equal(got, []string{"defaultDataSource"}) {
		t.Fatalf("search internal name = %v", got)
	}
	if got := names(models.DataSourceQuery{Search: "100%"}); !slices.Equal(got, []string{"gamma"}) {
		t.Fatalf("search integration code = %v", got)
	}
	page, err := s.ListDataSources(ctx, models.DataSourceQuery{PageRequest: models.PageRequest{Page: 1, PageSize: 3}})
	if err != nil || page.Total != 4 || len(page.Items) != 1 || page.Items[0].InternalName != "defaultDataSource" {
		t.Fatalf("page 2 = %+v %v", page, err)
	}
}

// The data source's validation and identity.Rule agree on which
// combinations of ID type, key and hash are allowed.
func TestDataSourceValidationAgreesWithIdentityRules(t *testing.T) {
	s := dbtest.New(t)
	n := 0
	for _, idType := range []string{"visitorId", "declaredId", "cookie"} {
		for _, key := range []string{"visitorId", "crmId", "email", "id", "phone"} {
			for _, hash := range []string{"none", "sha256", "md5"} {
				n++
				in := crmInput(fmt.Sprintf("ds%d", n))
				in.IDType, in.ReconciliationKey, in.HashAlgorithm = idType, key, hash
				_, err := s.CreateDataSource(context.Background(), cli, in)
				rule := identity.Rule{IDType: identity.IDType(idType), Key: identity.Key(key), Hash: identity.Hash(hash)}
				if (err == nil) != (rule.Validate() == nil) {
					t.Errorf("%s/%s/%s: model says %v, rule says %v", idType, key, hash, err, rule.Validate())
				}
			}
		}
	}
}
