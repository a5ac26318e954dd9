package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// watchConsole collects the browser console's errors and warnings, where a
// Content-Security-Policy violation or a broken script shows.
func watchConsole(tab context.Context) func() []string {
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
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

func activeTestID(t *testing.T, tab context.Context) string {
	t.Helper()
	id, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement && document.activeElement.getAttribute("data-testid") || document.activeElement.id || document.activeElement.tagName`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func countOf(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBrowserLibraryListAndPicker(t *testing.T) {
	f := newLibFixture(t)
	var segs []library.Segment
	for i := range 30 {
		name := fmt.Sprintf("Segment %02d", i)
		if i%10 == 7 {
			name = fmt.Sprintf("Zebra lovers %02d", i)
		}
		segs = append(segs, f.segment(t, library.SegmentInput{Name: name, Description: "Test audience " + strconv.Itoa(i), Source: "Analytics"}))
		if i == 17 {
			// Members and a size history for the segment page the picker leads to.
			for step, n := range []int{40, 25, -10} {
				f.srv.Clock.Advance(time.Duration(step+1) * 7 * time.Minute)
				ids := make([]string, max(n, -n))
				for j := range ids {
					ids[j] = ecid(500 + j)
				}
				change := f.lib.AddMembers
				if n < 0 {
					change = f.lib.RemoveMembers
				} else {
					for j := range ids {
						ids[j] = ecid(500 + step*100 + j)
					}
				}
				if _, err := change(context.Background(), segs[i].SID, library.Slice(ids)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	target := segs[17] // "Zebra lovers 17"
	f.srv.Operator(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	tab := webtest.Browser(t)
	problems := watchConsole(tab)
	browserLogin(t, tab, f.srv.URL, "ada")

	rows := `[data-testid="segments-table"] [data-testid="segment-row"]`
	if err := chromedp.Do(tab, chromedp.Navigate(f.srv.URL+"/library"), chromedp.WaitVisible(chromedp.CSS(rows)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true; void 0`)); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, tab, rows); n != 25 {
		t.Fatalf("first page has %d rows", n)
	}
	webtest.Screenshot(t, tab, "library-segments")

	// Load more appends the last five rows in place.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#library-more [data-testid="load-more"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#library-more [data-testid="load-more"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="segment-row"] a:focus`))); err != nil {
		t.Fatalf("load more: %v", err)
	}
	if n := countOf(t, tab, rows); n != 30 {
		t.Errorf("after Load more: %d rows", n)
	}
	if got, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#library-more [data-testid="shown-count"]`))); got != "Showing 30 of 30" {
		t.Errorf("count = %q", got)
	}
	if got, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != segs[4].Name {
		t.Errorf("focus after Load more is on %q, want the first new row", got)
	}

	// Search as you type.
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(`#search-search`), "zebra"),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-sid="`+strconv.FormatInt(segs[0].SID, 10)+`"]`))); err != nil {
		t.Fatalf("search: %v", err)
	}
	if n := countOf(t, tab, rows); n != 3 {
		t.Errorf("search shows %d rows, want the 3 zebra ones", n)
	}
	if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.Contains(loc, "search=zebra") {
		t.Errorf("search is not in the address bar: %s", loc)
	}
	if kept, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__noReload === true`)); !kept {
		t.Fatal("the page was reloaded")
	}

	// The picker, with the keyboard only: Enter on "Find a segment…".
	if err := chromedp.Do(tab, chromedp.Navigate(f.srv.URL+"/library"), chromedp.WaitVisible(chromedp.CSS(rows)),
		chromedp.Focus(chromedp.CSS(`[data-testid="find-segment"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-row"]`))); err != nil {
		t.Fatalf("open the picker: %v", err)
	}
	if got := activeTestID(t, tab); got != "picker-search" {
		t.Errorf("focus on open = %q, want the picker's search", got)
	}
	if modal, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("picker-dialog").getAttribute("aria-modal")`)); modal != "true" {
		t.Error("the dialog is not aria-modal")
	}
	if disabled, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid="picker-confirm"]').disabled`)); !disabled {
		t.Error("Confirm is enabled with nothing selected")
	}
	webtest.Screenshot(t, tab, "library-picker")
	pickerRows := `#picker-dialog [data-testid="picker-row"]`
	if err := chromedp.Do(tab, chromedp.KeyEvent("Zebra lovers 17"),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog [data-sid="`+strconv.FormatInt(segs[27].SID, 10)+`"]`))); err != nil {
		t.Fatalf("search in the picker: %v", err)
	}
	if n := countOf(t, tab, pickerRows); n != 1 {
		t.Fatalf("picker search shows %d rows", n)
	}
	// Tab to the checkbox, Space selects it; Tab on to Confirm.
	if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Tab)); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if activeTestID(t, tab) == "picker-check" {
			break
		}
		if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
	}
	if got := activeTestID(t, tab); got != "picker-check" {
		t.Fatalf("Tab never reached the row's checkbox (at %q)", got)
	}
	if err := chromedp.Do(tab, chromedp.KeyEvent(" "),
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="picker-confirm"]`))); err != nil {
		t.Fatalf("select with Space: %v", err)
	}
	if sel, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="picker-selection"]`))); sel != "Selected: Zebra lovers 17" {
		t.Errorf("selection = %q", sel)
	}
	webtest.Screenshot(t, tab, "library-picker-selected")
	// The focus stays inside the dialog: Tab past the last control wraps.
	if err := chromedp.Do(tab, chromedp.Focus(chromedp.CSS(`[data-testid="picker-confirm"]`)), chromedp.KeyEvent(kb.Tab)); err != nil {
		t.Fatal(err)
	}
	if inside, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("picker-dialog").contains(document.activeElement)`)); !inside {
		t.Error("Tab left the dialog")
	}
	if err := chromedp.Do(tab, chromedp.Focus(chromedp.CSS(`[data-testid="picker-confirm"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="segment-props"]`))); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if loc, _ := chromedp.Run(tab, chromedp.Location()); !strings.HasSuffix(loc, segPath(target)) {
		t.Errorf("confirm went to %s, want %s", loc, segPath(target))
	}
	webtest.Screenshot(t, tab, "library-segment")

	// Escape closes the picker and gives the focus back to its button.
	if err := chromedp.Do(tab, chromedp.Navigate(f.srv.URL+"/library"), chromedp.WaitVisible(chromedp.CSS(rows)),
		chromedp.Focus(chromedp.CSS(`[data-testid="find-segment"]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-row"]`)),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog[open]`))); err != nil {
		t.Fatalf("Escape: %v", err)
	}
	if got := activeTestID(t, tab); got != "find-segment" {
		t.Errorf("focus after Escape = %q, want the Find a segment button", got)
	}
	// Close does the same, by mouse.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="find-segment"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-close"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-close"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog[open]`))); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := activeTestID(t, tab); got != "find-segment" {
		t.Errorf("focus after Close = %q", got)
	}
	if p := problems(); len(p) > 0 {
		t.Fatalf("browser console:\n%s", strings.Join(p, "\n"))
	}
}

// TestBrowserLibraryPickerExportCreate drives export mode: the opener is
// planted on the real segments page through DevTools (no test-only route),
// in a form that owns the fields the picker fills.
func TestBrowserLibraryPickerExportCreate(t *testing.T) {
	f := newLibFixture(t)
	f.segment(t, library.SegmentInput{Name: "Existing visitors"})
	f.srv.Operator(t, "rita", models.RoleMarketer, models.AudienceLibrary)
	tab := webtest.Browser(t)
	problems := watchConsole(tab)
	browserLogin(t, tab, f.srv.URL, "rita")
	host := `(() => {
		const form = document.createElement("form");
		form.id = "export-host";
		form.innerHTML = '<input type="hidden" name="expSid"><input type="text" readonly name="expName">' +
			'<input type="hidden" name="expDataSourceId">' +
			'<button type="button" id="export-open" data-picker-url="/library/picker?mode=export" data-picker-target="exp">Select a shared audience</button>';
		document.querySelector("main").appendChild(form);
		window.__selected = null;
		document.getElementById("export-open").addEventListener("audience:selected", (e) => { window.__selected = e.detail; });
	})()`
	if err := chromedp.Do(tab, chromedp.Navigate(f.srv.URL+"/library"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="segments-table"]`)),
		chromedp.Evaluate[chromedp.Void](host),
		chromedp.Click(chromedp.CSS(`#export-open`)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-segment-name"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="picker-segment-name"]`), "Spring export"),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-create-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="picker-notice"]`)),
		// The selection is drawn once htmx has settled the new rows.
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="picker-confirm"]`))); err != nil {
		t.Fatalf("create: %v", err)
	}
	found, err := f.lib.Segments(context.Background(), library.Query{SortBy: "name"})
	if err != nil || found.Total != 2 {
		t.Fatalf("library after Create: %+v %v", found, err)
	}
	var seg library.Segment
	for _, s := range found.List {
		if s.Name == "Spring export" {
			seg = s
		}
	}
	if !seg.Collecting || seg.Source != "Campaign" || seg.Author != "rita" || seg.DataSourceID != f.cookie.ID {
		t.Fatalf("created segment = %+v", seg)
	}
	first := `#picker-dialog [data-testid="picker-row"]:first-child`
	state, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](`(() => {
		const row = document.querySelector(`+strconv.Quote(first)+`);
		return {sid: row.getAttribute("data-sid"), checked: row.querySelector("input[data-pick]").checked,
			size: row.querySelector('[data-testid="segment-size"]').textContent.trim(),
			confirm: document.querySelector('[data-testid="picker-confirm"]').disabled,
			name: document.querySelector('[data-testid="picker-segment-name"]').value,
			focus: document.activeElement === row.querySelector("input[data-pick]")};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if state["sid"] != strconv.FormatInt(seg.SID, 10) || state["checked"] != true || state["size"] != "Collecting data" || state["confirm"] != false ||
		state["name"] != "" || state["focus"] != true {
		t.Errorf("after Create the picker shows %v", state)
	}
	webtest.Screenshot(t, tab, "library-picker-export")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="picker-confirm"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog[open]`))); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	got, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](`({
		sid: document.querySelector('[name="expSid"]').value, name: document.querySelector('[name="expName"]').value,
		ds: document.querySelector('[name="expDataSourceId"]').value, detail: window.__selected,
		focus: document.activeElement.id})`))
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := got["detail"].(map[string]any)
	if got["sid"] != strconv.FormatInt(seg.SID, 10) || got["name"] != "Spring export" || got["ds"] != strconv.FormatInt(f.cookie.ID, 10) ||
		got["focus"] != "export-open" || detail == nil || detail["sid"] != float64(seg.SID) || detail["collecting"] != true || detail["size"] != float64(0) {
		t.Errorf("host after Confirm = %v", got)
	}
	// A second creation without a name says why, inside the picker.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#export-open`)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-create-submit"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-create-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="picker-name-error"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="picker-segment-name"]:focus`))); err != nil {
		t.Fatalf("create without a name: %v", err)
	}
	if got := activeTestID(t, tab); got != "picker-segment-name" {
		t.Errorf("focus after a refused Create = %q", got)
	}
	time.Sleep(100 * time.Millisecond)
	if p := problems(); len(p) > 0 {
		// A refused Create answers 422, which the browser logs as a failed
		// request; anything else is a fault.
		var other []string
		for _, m := range p {
			if !strings.Contains(m, "422") {
				other = append(other, m)
			}
		}
		if len(other) > 0 {
			t.Fatalf("browser console:\n%s", strings.Join(other, "\n"))
		}
	}
}
