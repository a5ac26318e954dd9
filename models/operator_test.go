package models_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

var cli = models.SystemActor("cli:test")

func mustCreate(t *testing.T, s *models.Store, login string, role models.Role, ents ...models.Entitlement) *models.Operator {
	t.Helper()
	var names []string
	for _, e := range ents {
		names = append(names, string(e))
	}
	op, err := s.CreateOperator(context.Background(), cli, models.OperatorInput{
		Login: login, Role: string(role), Password: "correct horse", Entitlements: names})
	if err != nil {
		t.Fatalf("create %s: %v", login, err)
	}
	return op
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := dbtest.New(t)
	applied, err := s.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", len(applied))
	}
	st, err := s.MigrationState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all, _ := models.Migrations()
	if !st.UpToDate() || len(st.Applied) != len(all) {
		t.Fatalf("state = %+v, want all %d applied", st, len(all))
	}
}

func TestCreateOperatorValidates(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		in    models.OperatorInput
		field string
	}{
		{"empty login", models.OperatorInput{Role: "admin", Password: "long enough"}, "login"},
		{"script login", models.OperatorInput{Login: "<script>", Role: "admin", Password: "long enough"}, "login"},
		{"long login", models.OperatorInput{Login: strings.Repeat("a", 65), Role: "admin", Password: "long enough"}, "login"},
		{"bad role", models.OperatorInput{Login: "bob", Role: "root", Password: "long enough"}, "role"},
		{"short password", models.OperatorInput{Login: "bob", Role: "admin", Password: "short"}, "password"},
		{"long password", models.OperatorInput{Login: "bob", Role: "admin", Password: strings.Repeat("p", 129)}, "password"},
		{"bad email", models.OperatorInput{Login: "bob", Role: "admin", Password: "long enough", Email: "bob@"}, "email"},
		{"bad entitlement", models.OperatorInput{Login: "bob", Role: "admin", Password: "long enough", Entitlements: []string{"root"}}, "entitlements"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateOperator(ctx, cli, tc.in)
			var v models.ValidationErrors
			if !errors.As(err, &v) || v.For(tc.field) == "" {
				t.Fatalf("err = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
	if n, _ := s.CountOperators(ctx); n != 0 {
		t.Fatalf("invalid input created %d operators", n)
	}
	page, err := s.ListAudit(ctx, models.AuditQuery{})
	if err != nil || page.Total != 0 {
		t.Fatalf("invalid input wrote %d audit records (err %v)", page.Total, err)
	}
}

func TestCreateOperatorRejectsDuplicateLoginCaseInsensitively(t *testing.T) {
	s := dbtest.New(t)
	mustCreate(t, s, "alice", models.RoleMarketer)
	_, err := s.CreateOperator(context.Background(), cli, models.OperatorInput{Login: " Alice ", Role: "admin", Password: "long enough"})
	if !errors.Is(err, models.ErrConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
}

func TestEntitlementToggleIsAudited(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	admin := mustCreate(t, s, "root", models.RoleAdmin)
	m := mustCreate(t, s, "mia", models.RoleMarketer)
	actor := models.ActorOf(admin)

	op, err := s.SetEntitlement(ctx, actor, m.ID, models.AudienceLibrary, true)
	if err != nil || !op.Has(models.AudienceLibrary) {
		t.Fatalf("grant: %v %v", op, err)
	}
	// Granting again changes nothing and writes nothing.
	if _, err := s.SetEntitlement(ctx, actor, m.ID, models.AudienceLibrary, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetEntitlement(ctx, actor, m.ID, models.AAMAdmin, true); err != nil {
		t.Fatal(err)
	}
	op, err = s.SetEntitlement(ctx, actor, m.ID, models.AudienceLibrary, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(op.Entitlements, []models.Entitlement{models.AAMAdmin}) {
		t.Fatalf("entitlements = %v", op.Entitlements)
	}
	reloaded, err := s.OperatorByLogin(ctx, "MIA")
	if err != nil || !slices.Equal(reloaded.Entitlements, op.Entitlements) {
		t.Fatalf("reloaded = %v, %v", reloaded, err)
	}

	page, err := s.ListAudit(ctx, models.AuditQuery{TargetType: "operator", TargetID: itoa(m.ID)})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
	}
	want := []string{"entitlement.revoke", "entitlement.grant", "entitlement.grant", "operator.create"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
	revoke := page.Items[0]
	if revoke.Actor != "root" || revoke.ActorID == nil || *revoke.ActorID != admin.ID {
		t.Fatalf("revoke actor = %q %v", revoke.Actor, revoke.ActorID)
	}
	changes := revoke.Changes()
	if len(changes) != 1 || changes[0].Field != "entitlements" ||
		changes[0].Before != "audience-library, aam-admin" || changes[0].After != "aam-admin" {
		t.Fatalf("changes = %+v", changes)
	}
	if _, err := s.SetEntitlement(ctx, actor, m.ID, "root", true); err == nil {
		t.Fatal("unknown entitlement accepted")
	}
	if _, err := s.SetEntitlement(ctx, actor, 9999, models.AAMAdmin, true); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("missing operator: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDisableRules(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	admin := mustCreate(t, s, "root", models.RoleAdmin)
	m := mustCreate(t, s, "mia", models.RoleMarketer)
	actor := models.ActorOf(admin)

	if _, err := s.SetOperatorDisabled(ctx, actor, admin.ID, true); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("disabling yourself: %v", err)
	}
	if _, err := s.SetOperatorDisabled(ctx, cli, admin.ID, true); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	if _, err := s.UpdateOperator(ctx, cli, admin.ID, models.OperatorUpdate{Role: "marketer"}); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	token, err := s.CreateSession(ctx, m.ID, models.SessionPolicy{Idle: time.Hour, MaxAge: time.Hour}, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	op, err := s.SetOperatorDisabled(ctx, actor, m.ID, true)
	if err != nil || !op.Disabled() {
		t.Fatalf("disable: %v %v", op, err)
	}
	if _, err := s.SessionOperator(ctx, token, models.SessionPolicy{Idle: time.Hour, MaxAge: time.Hour}); !errors.Is(err, models.ErrSessionExpired) {
		t.Fatalf("session of a disabled operator still works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "mia", "correct horse", "10.0.0.1"); !errors.Is(err, models.ErrOperatorDisabled) {
		t.Fatalf("disabled sign-in: %v", err)
	}
	if _, err := s.SetOperatorDisabled(ctx, actor, m.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "mia", "correct horse", "10.0.0.1"); err != nil {
		t.Fatalf("re-enabled sign-in: %v", err)
	}
}

func TestSessionsExpire(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	m := mustCreate(t, s, "mia", models.RoleMarketer)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	policy := models.SessionPolicy{Idle: 30 * time.Minute, MaxAge: 2 * time.Hour}
	token, err := s.CreateSession(ctx, m.ID, policy, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	// Kept alive by use every 20 minutes until the absolute limit.
	for i := 0; i < 5; i++ {
		now = now.Add(20 * time.Minute)
		if _, err := s.SessionOperator(ctx, token, policy); err != nil {
			t.Fatalf("after %d uses: %v", i+1, err)
		}
	}
	now = now.Add(20 * time.Minute) // 2h after sign-in
	if _, err := s.SessionOperator(ctx, token, policy); !errors.Is(err, models.ErrSessionExpired) {
		t.Fatalf("past max age: %v", err)
	}
	token, _ = s.CreateSession(ctx, m.ID, policy, "127.0.0.1", "test")
	now = now.Add(31 * time.Minute)
	if _, err := s.SessionOperator(ctx, token, policy); !errors.Is(err, models.ErrSessionExpired) {
		t.Fatalf("past idle limit: %v", err)
	}
	if n, _ := s.CountOperatorSessions(ctx, m.ID); n != 0 {
		t.Fatalf("expired sessions left: %d", n)
	}
	if _, err := s.SessionOperator(ctx, "forged", policy); !errors.Is(err, models.ErrSessionExpired) {
		t.Fatalf("forged token: %v", err)
	}
}

func TestSignInThrottling(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	mustCreate(t, s, "mia", models.RoleMarketer)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }

	for i := 0; i < models.MaxFailuresPerLogin; i++ {
		now = now.Add(time.Second)
		if _, err := s.Authenticate(ctx, "mia", "wrong", "10.0.0.1"); !errors.Is(err, models.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Even the right password is refused while throttled.
	_, err := s.Authenticate(ctx, "mia", "correct horse", "10.0.0.2")
	var th *models.ThrottledError
	if !errors.As(err, &th) || th.ByAddress {
		t.Fatalf("throttled login: %v", err)
	}
	if !strings.Contains(err.Error(), "try again in 15 minutes") {
		t.Fatalf("message = %q", err)
	}
	now = now.Add(models.ThrottleWindow)
	if _, err := s.Authenticate(ctx, "mia", "correct horse", "10.0.0.2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	// One address guessing many logins is throttled too.
	for i := 0; i < models.MaxFailuresPerIP; i++ {
		now = now.Add(time.Second)
		if _, err := s.Authenticate(ctx, "nobody"+strconv.Itoa(i), "x", "10.9.9.9"); !errors.Is(err, models.ErrBadCredentials) {
			t.Fatalf("ip failure %d: %v", i, err)
		}
	}
	if _, err := s.Authenticate(ctx, "mia", "correct horse", "10.9.9.9"); !errors.As(err, &th) || !th.ByAddress {
		t.Fatalf("throttled address: %v", err)
	}
}

func TestListOperatorsSearchesSortsAndPages(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	logins := []string{"carol", "alice", "bob", "dave", "erin", "frank", "grace"}
	for _, l := range logins {
		mustCreate(t, s, l, models.RoleMarketer, models.AudienceLibrary)
	}
	mustCreate(t, s, "root", models.RoleAdmin)
	page, err := s.ListOperators(ctx, models.OperatorQuery{PageRequest: models.PageRequest{Page: 1, PageSize: 3}})
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(logins), "root")
	slices.Sort(all)
	var got []string
	for _, o := range page.Items {
		got = append(got, o.Login)
		if o.Login != "root" && !o.Has(models.AudienceLibrary) {
			t.Fatalf("%s lost its entitlement in the list", o.Login)
		}
	}
	if page.Total != int64(len(all)) || !slices.Equal(got, all[3:6]) {
		t.Fatalf("page 1 = %v (total %d), want %v", got, page.Total, all[3:6])
	}
	page, _ = s.ListOperators(ctx, models.OperatorQuery{Search: "A", Sort: "login", Descending: true})
	got = nil
	for _, o := range page.Items {
		got = append(got, o.Login)
	}
	if !slices.Equal(got, []string{"grace", "frank", "dave", "carol", "alice"}) {
		t.Fatalf("search a desc = %v", got)
	}
	page, _ = s.ListOperators(ctx, models.OperatorQuery{Search: "%"})
	if page.Total != 0 {
		t.Fatalf("%% matched %d operators", page.Total)
	}
	page, _ = s.ListOperators(ctx, models.OperatorQuery{Role: "admin"})
	if page.Total != 1 || page.Items[0].Login != "root" {
		t.Fatalf("admins = %+v", page.Items)
	}
}

func TestSeedDemoDataOnceAndOnlyOnEmptyTables(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	if err := s.SeedDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedDemoData(ctx); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	n, err := s.CountRecipients(ctx)
	if err != nil || n != models.DemoRecipients {
		t.Fatalf("recipients = %d, %v", n, err)
	}
	var withVisitor, withCRM int64
	db, _ := s.SQL()
	if err := db.QueryRow(`SELECT COUNT(DISTINCT recipient_id) FROM recipient_visitor_ids`).Scan(&withVisitor); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM recipients WHERE crm_id IS NOT NULL`).Scan(&withCRM); err != nil {
		t.Fatal(err)
	}
	// "Most with a visitor ID, many with a CRM ID": about 85% and 60%.
	if withVisitor < 8000 || withVisitor > 9000 || withCRM < 5500 || withCRM > 6500 {
		t.Fatalf("with visitor ID %d, with CRM ID %d", withVisitor, withCRM)
	}
	for _, name := range []string{"defaultDataSource", "crmDeclaredId", "hashedEmail"} {
		if _, err := s.DataSourceByInternalName(ctx, name); err != nil {
			t.Errorf("data source %s: %v", name, err)
		}
	}
	lists, err := s.ListLists(ctx, models.ListQuery{})
	if err != nil || lists.Total != 2 {
		t.Fatalf("lists = %d %v", lists.Total, err)
	}
	for _, l := range lists.Items {
		var members int64
		// $1 is a numbered parameter for PostgreSQL and a positional one for SQLite.
		if err := db.QueryRow(`SELECT COUNT(*) FROM list_members WHERE list_id = $1`, l.ID).Scan(&members); err != nil {
			t.Fatal(err)
		}
		if l.Size == 0 || l.Size != members {
			t.Errorf("list %s size %d, members %d", l.Label, l.Size, members)
		}
	}
}
