package web_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// TestBrowserTourHasNoErrors opens every page of the explorer with demo data
// as an administrator and fails on any error in the browser console, which
// is where a Content-Security-Policy violation or a broken script shows,
// and on any serious accessibility violation that axe-core finds.
func TestBrowserTourHasNoErrors(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	if _, err := srv.Store.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.SeedDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := library.SeedDemo(ctx, srv.Store); err != nil {
		t.Fatal(err)
	}
	tab := webtest.Browser(t)
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(tab)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.Text)
				mu.Unlock()
			}
		}
	}()
	admin := models.DemoOperators[0]
	browserLoginWith(t, tab, srv.URL, admin.Login, admin.Password)
	lists, _ := srv.Store.ListLists(ctx, models.ListQuery{})
	rec, _ := srv.Store.ListRecipients(ctx, models.RecipientQuery{})
	pages := []struct{ name, path, wait string }{
		{"tour-home", "/", `[data-testid="rights"]`},
		{"tour-recipients", "/recipients", `[data-testid="recipients-table"]`},
		{"tour-recipient", "/recipients/" + strconv.FormatInt(rec.Items[0].ID, 10), `[data-testid="visitor-ids"]`},
		{"tour-lists", "/lists", `[data-testid="lists-table"]`},
		{"tour-list", "/lists/" + strconv.FormatInt(lists.Items[0].ID, 10), `[data-testid="members-table"]`},
		{"tour-new-list", "/lists/new", `[data-testid="list-form"]`},
		{"tour-import", "/recipients/import", `[data-testid="upload-form"]`},
		{"tour-datasources", "/admin/datasources", `table`},
		{"tour-operators", "/admin/operators", `[data-testid="operators-table"]`},
		{"tour-audit", "/admin/audit", `[data-testid="audit-table"]`},
		{"tour-account", "/account", `[data-testid="tokens-table"]`},
		{"tour-library", "/library", `[data-testid="segments-table"]`},
		{"tour-external-accounts", "/admin/external-accounts", `[data-testid="account-importSharedAudience"]`},
	}
	for _, p := range pages {
		if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait))); err != nil {
			t.Errorf("%s: %v", p.path, err)
			continue
		}
		webtest.Screenshot(t, tab, p.name)
		webtest.Axe(t, tab, p.name)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("browser console:\n%s", strings.Join(problems, "\n"))
	}
}
