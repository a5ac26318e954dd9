package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func browserLogin(t *testing.T, ctx context.Context, base, login string) {
	t.Helper()
	browserLoginWith(t, ctx, base, login, webtest.Password)
}

func browserLoginWith(t *testing.T, ctx context.Context, base, login, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#field-login`), login),
		chromedp.SendKeys(chromedp.CSS(`#field-password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="topbar-user"]`)),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", login, err)
	}
}

func TestBrowserDemoOperatorsAndCard(t *testing.T) {
	srv := webtest.Start(t)
	if _, err := srv.Store.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := webtest.Browser(t)
	admin := models.DemoOperators[0]
	browserLoginWith(t, ctx, srv.URL, admin.Login, admin.Password)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/operators"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="operator-trainee"]`))); err != nil {
		t.Fatal(err)
	}
	webtest.Screenshot(t, ctx, "demo-operators")
	webtest.Axe(t, ctx, "operators")
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="operators-table"] tbody tr').length`))
	if err != nil || rows != len(models.DemoOperators) {
		t.Fatalf("rows = %d, %v", rows, err)
	}
	// Keyboard only: open the New menu with Enter and follow its entry.
	err = chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS(`[data-testid="new-menu"] summary`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-operator"]`)),
		chromedp.Focus(chromedp.CSS(`[data-testid="new-operator"]`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="operator-form"]`)),
	)
	if err != nil {
		t.Fatalf("keyboard New menu: %v", err)
	}
	webtest.Screenshot(t, ctx, "new-operator")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid="operator-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-login"]`))); err != nil {
		t.Fatalf("empty form: %v", err)
	}
	webtest.Axe(t, ctx, "operator-form-errors")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/operators"),
		chromedp.Click(chromedp.CSS(`[data-testid="operator-trainee"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="operator-entitlements"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="toggle-aam-admin-trainee"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="toggle-aam-admin-trainee"][aria-checked="true"]`)),
	); err != nil {
		t.Fatalf("card toggle: %v", err)
	}
	webtest.Screenshot(t, ctx, "operator-card")
	trainee, err := srv.Store.OperatorByLogin(context.Background(), "trainee")
	if err != nil || !trainee.Has(models.AAMAdmin) {
		t.Fatalf("card toggle not stored: %v %v", trainee, err)
	}
}

func TestBrowserAdminGrantsEntitlementWithoutReload(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "root", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	mia := srv.Operator(t, "mia", models.RoleMarketer)
	ctx := webtest.Browser(t)

	browserLogin(t, ctx, srv.URL, "root")
	webtest.Screenshot(t, ctx, "home")
	webtest.Axe(t, ctx, "home")
	tree, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`nav.tree`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Profiles and Targets", "Recipients", "Lists", "Workflows", "Audience library", "Administration", "Operators", "AMC Data sources", "External accounts", "Audit log"} {
		if !strings.Contains(tree, want) {
			t.Errorf("explorer tree lacks %q: %q", want, tree)
		}
	}

	toggle := chromedp.CSS(`[data-testid="toggle-audience-library-mia"]`)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="nav-operators"]`)),
		chromedp.WaitVisible(toggle),
		// A marker on the window survives only if the page is not reloaded.
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true; void 0`),
	)
	if err != nil {
		t.Fatal(err)
	}
	before, err := chromedp.Run(ctx, chromedp.AttributeValue(toggle, "aria-checked"))
	if err != nil || before.Value != "false" {
		t.Fatalf("toggle before = %+v, %v", before, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(toggle),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="toggle-audience-library-mia"][aria-checked="true"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#toasts .flash-success`))); err != nil {
		t.Fatalf("toggle did not turn on: %v", err)
	}
	webtest.Screenshot(t, ctx, "operators")
	webtest.Axe(t, ctx, "operators-toast")
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	if err != nil || !kept {
		t.Fatalf("the page was reloaded (%v)", err)
	}
	toast, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#toasts .flash-success`)))
	if !strings.Contains(toast, "Audience library granted to mia") {
		t.Errorf("toast = %q", toast)
	}
	got, err := srv.Store.OperatorByID(context.Background(), mia.ID)
	if err != nil || !got.Has(models.AudienceLibrary) {
		t.Fatalf("entitlement not stored: %v %v", got, err)
	}

	// Search as you type narrows the table without leaving the page.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`#search-search`), "ro"),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="operator-mia"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="operator-root"]`))); err != nil {
		t.Fatalf("search: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "search=ro") {
		t.Errorf("search is not in the address bar: %s", loc)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/audit"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`))); err != nil {
		t.Fatal(err)
	}
	webtest.Screenshot(t, ctx, "audit")
	audit, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="audit-table"] tbody`)))
	if !strings.Contains(audit, "Granted Audience library to mia") {
		t.Errorf("audit log lacks the grant: %q", audit)
	}
}

func TestBrowserMarketerIsRefusedOperatorsWithExplanation(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "mia", models.RoleMarketer, models.AudienceLibrary)
	ctx := webtest.Browser(t)
	browserLogin(t, ctx, srv.URL, "mia")
	tree, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`nav.tree`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tree, "Operators") {
		t.Errorf("a marketer sees the Administration nodes: %q", tree)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/operators"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-403"]`))); err != nil {
		t.Fatalf("no 403 page: %v", err)
	}
	webtest.Screenshot(t, ctx, "forbidden")
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="access-denied"]`)))
	if !strings.Contains(text, "Administrator") || !strings.Contains(text, "An administrator grants") {
		t.Errorf("403 does not explain: %q", text)
	}
}

func TestBrowserLoginPageLooksRight(t *testing.T) {
	srv := webtest.Start(t)
	ctx := webtest.Browser(t)
	err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#field-login`), "<script>alert(1)</script>"),
		chromedp.SendKeys(chromedp.CSS(`#field-password`), "wrong-password"),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-error"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	webtest.Screenshot(t, ctx, "login-error")
	webtest.Axe(t, ctx, "login")
	// The typed login comes back escaped as the field's value, never as markup.
	val, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#field-login`)))
	if err != nil || val != "<script>alert(1)</script>" {
		t.Fatalf("login field = %q, %v", val, err)
	}
	n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src])").length`))
	if n != 0 {
		t.Fatalf("%d inline scripts on the page", n)
	}
}

func TestBrowserRefusedToggleSaysWhyAndExpiredSessionGoesToSignIn(t *testing.T) {
	srv := webtest.Start(t)
	root := srv.Operator(t, "root", models.RoleAdmin)
	other := srv.Operator(t, "other", models.RoleAdmin)
	mia := srv.Operator(t, "mia", models.RoleMarketer)
	ctx := webtest.Browser(t)
	browserLogin(t, ctx, srv.URL, "root")
	toggle := chromedp.CSS(`[data-testid="toggle-aam-admin-mia"]`)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/operators"), chromedp.WaitVisible(toggle)); err != nil {
		t.Fatal(err)
	}
	// Another administrator takes root's admin role while the page is open.
	if _, err := srv.Store.UpdateOperator(context.Background(), models.ActorOf(other), root.ID, models.OperatorUpdate{Role: "marketer"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(toggle), chromedp.WaitVisible(chromedp.CSS(`#toasts .flash-error`))); err != nil {
		t.Fatalf("no error toast: %v", err)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#toasts .flash-error`)))
	if !strings.Contains(msg, "admin role") {
		t.Errorf("toast = %q", msg)
	}
	state, _ := chromedp.Run(ctx, chromedp.AttributeValue(toggle, "aria-checked"))
	if state.Value != "false" {
		t.Errorf("refused toggle shows %q", state.Value)
	}
	if got, _ := srv.Store.OperatorByID(context.Background(), mia.ID); got.Has(models.AAMAdmin) {
		t.Fatal("refused toggle was stored")
	}
	// Back to admin, then the session expires: the next click goes to sign-in.
	if _, err := srv.Store.UpdateOperator(context.Background(), models.ActorOf(other), root.ID, models.OperatorUpdate{Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	srv.Clock.Advance(13 * time.Hour)
	if err := chromedp.Do(ctx, chromedp.Click(toggle), chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`))); err != nil {
		t.Fatalf("expired session did not go to sign-in: %v", err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "next=%2Fadmin%2Foperators") {
		t.Errorf("sign-in does not come back: %s", loc)
	}
	warn, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.auth-card`)))
	if !strings.Contains(warn, "Your session has expired") {
		t.Errorf("sign-in page = %q", warn)
	}
}
