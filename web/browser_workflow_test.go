package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// settle lets htmx finish a swap (it wires new content up after a short
// settle delay) before the test clicks into it, as a person would.
var settle = chromedp.Sleep(300 * time.Millisecond)

// dropActivity drags a palette item onto the diagram with the browser's
// own drag-and-drop events.
const dropActivity = `((activity) => {
	const item = document.querySelector('[data-activity="' + activity + '"]');
	const canvas = document.querySelector('[data-drop-url] .diagram');
	const dt = new DataTransfer();
	item.dispatchEvent(new DragEvent("dragstart", {bubbles: true, dataTransfer: dt}));
	canvas.dispatchEvent(new DragEvent("dragover", {bubbles: true, cancelable: true, dataTransfer: dt}));
	canvas.dispatchEvent(new DragEvent("drop", {bubbles: true, cancelable: true, dataTransfer: dt}));
	item.dispatchEvent(new DragEvent("dragend", {bubbles: true, dataTransfer: dt}));
})`

func TestBrowserWorkflowExportsToANewAudience(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	result, complement := shopFixture(t, srv, 80)
	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	srv.Operator(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	tab := webtest.Browser(t)
	problems := watchConsole(tab)
	browserLogin(t, tab, srv.URL, "ada")

	// Workflows › New › New workflow…
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/workflows"),
		chromedp.Click(chromedp.CSS(`[data-testid="new-menu"] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid="new-workflow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="workflow-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#field-label`), "Shop buyers to AAM"),
		chromedp.Click(chromedp.CSS(`[data-testid="workflow-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="diagram-empty"]`))); err != nil {
		t.Fatalf("new workflow: %v", err)
	}
	// Drag the Query onto the diagram and set its condition.
	step, cancelStep := context.WithTimeout(tab, 10*time.Second)
	if err := chromedp.Do(step, chromedp.Evaluate[chromedp.Void](dropActivity+`("query")`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="node-query"]`)), settle); err != nil {
		webtest.Screenshot(t, tab, "workflow-drop-failed")
		t.Fatalf("drop the query: %v", err)
	}
	cancelStep()
	step, cancelStep = context.WithTimeout(tab, 10*time.Second)
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(`[data-testid="node-query"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#activity-dialog[open] [data-testid="query-form"]`)), settle); err != nil {
		webtest.Screenshot(t, tab, "workflow-dialog-failed")
		st, serr := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const d = document.getElementById("activity-dialog"); return JSON.stringify({open: d.open, modal: d.matches(":modal"), display: getComputedStyle(d).display, kids: d.children.length, html: d.outerHTML.slice(0, 200)}); })()`))
		t.Log(st, serr, problems())
		t.Fatalf("open the query dialog: %v", err)
	}
	cancelStep()
	// The keyboard stays in the dialog; Escape closes it; open it again.
	webtest.DialogKeyboard(t, tab, `#activity-dialog`, `[data-testid="node-query"]`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="node-query"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#activity-dialog[open] [data-testid="query-form"]`)), settle); err != nil {
		t.Fatalf("open the query dialog again: %v", err)
	}
	for i, a := range []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(`[data-testid="add-condition"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="condition-row"]`)),
		settle,
		// Choosing the operator redraws the row for it.
		chromedp.Evaluate[chromedp.Void](`(() => { const op = document.querySelector('[data-testid="cond-op"]'); op.value = "endsWith";
			op.dispatchEvent(new Event("change", {bubbles: true})); })()`),
		settle,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="cond-value"]`), "@shop.example"),
	} {
		sctx, scancel := context.WithTimeout(tab, 8*time.Second)
		err := chromedp.Do(sctx, a)
		scancel()
		if err != nil {
			webtest.Screenshot(t, tab, "workflow-step-failed")
			st, serr := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const d = document.getElementById("activity-dialog"); return JSON.stringify({open: d.open, modal: d.matches(":modal"), kids: d.children.length, rows: document.querySelectorAll(".cond-row").length, row: (document.querySelector(".cond-row")||{}).outerHTML, active: document.activeElement.outerHTML.slice(0,120)}); })()`))
			t.Fatalf("query dialog, step %d: %v (%s %v) console %v", i, err, st, serr, problems())
		}
	}
	want := strconv.FormatInt(result+complement, 10)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="count-value" and text()="`+want+`"]`))); err != nil {
		t.Fatalf("the live count never showed %s: %v", want, err)
	}
	webtest.Screenshot(t, tab, "workflow-query")
	webtest.Axe(t, tab, "workflow-query-dialog")
	for i, a := range []chromedp.Action[chromedp.Void]{
		chromedp.Click(chromedp.CSS(`[data-testid="query-save"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#activity-dialog[open]`)),
		// The diagram redraws itself after the save.
		chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="node-query"]//*[text()="1 condition"]`)),
		settle,
		// The palette's second item by a click, this time.
		chromedp.Click(chromedp.CSS(`[data-testid="palette-export"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="node-export"]`)),
		settle,
		chromedp.Click(chromedp.CSS(`[data-testid="node-export"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#activity-dialog[open] [data-testid="export-form"]`)),
		settle,
	} {
		sctx, scancel := context.WithTimeout(tab, 8*time.Second)
		err := chromedp.Do(sctx, a)
		scancel()
		if err != nil {
			webtest.Screenshot(t, tab, "workflow-export-step-failed")
			st, serr := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const d = document.getElementById("activity-dialog"); return JSON.stringify({n: document.querySelectorAll("#activity-dialog").length, open: d && d.open, kids: d && d.children.length, html: d && d.innerHTML.slice(0, 300)}); })()`))
			t.Fatalf("export activity, step %d: %v, console %v, dialog %s %v", i, err, problems(), st, serr)
		}
	}
	webtest.DialogKeyboard(t, tab, `#activity-dialog`, `[data-testid="node-export"]`)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="node-export"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#activity-dialog[open] [data-testid="export-form"]`)), settle); err != nil {
		t.Fatalf("open the export dialog again: %v", err)
	}
	// The picker over the activity dialog: Escape closes the picker only.
	selectAudience := `#activity-dialog [data-testid="select-audience"]`
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selectAudience)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-segment-name"]`))); err != nil {
		t.Fatalf("open the picker: %v", err)
	}
	webtest.DialogKeyboard(t, tab, `#picker-dialog`, selectAudience)
	if n := countOf(t, tab, `#activity-dialog[open]`); n != 1 {
		t.Fatal("Escape in the picker closed the activity dialog too")
	}
	// Select a shared audience › a new Segment name › Create › confirm.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(selectAudience)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-segment-name"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="picker-segment-name"]`), "Shop buyers (Campaign)"),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-create-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="picker-notice"]`)),
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="picker-confirm"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-confirm"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog[open]`)), settle); err != nil {
		t.Fatalf("picker: %v", err)
	}
	name, _ := chromedp.Run(tab, chromedp.Value(chromedp.CSS(`#activity-dialog #field-audienceName`)))
	if name != "Shop buyers (Campaign)" {
		t.Fatalf("audience name %q after confirm", name)
	}
	if err := chromedp.Do(tab, chromedp.SetValue(chromedp.CSS(`#activity-dialog #field-dataSource`), models.DefaultDataSourceName),
		chromedp.Click(chromedp.CSS(`#activity-dialog [data-testid="input-complementEnabled"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="export-preview"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="export-preview-counts"]`)), settle); err != nil {
		t.Fatalf("preview: %v", err)
	}
	if got, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="preview-result"]`))); got != strconv.FormatInt(result, 10) {
		t.Errorf("preview Result %s, want %d", got, result)
	}
	webtest.Screenshot(t, tab, "workflow-export-dialog")
	webtest.Axe(t, tab, "workflow-export-dialog")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="export-save"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#activity-dialog[open]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="end-complement"]`)),
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="run-workflow"]`)), settle); err != nil {
		t.Fatalf("save the export: %v", err)
	}
	// Run, and watch both transitions get their counts.
	deadline, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(deadline, chromedp.Click(chromedp.CSS(`[data-testid="run-workflow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="workflow-run"][data-status="succeeded"]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="count-result" and text()="`+strconv.FormatInt(result, 10)+`"]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="count-complement" and text()="`+strconv.FormatInt(complement, 10)+`"]`))); err != nil {
		res, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="workflow-canvas"]`)))
		t.Fatalf("run: %v (diagram: %s)", err, res)
	}
	webtest.Screenshot(t, tab, "workflow-diagram")

	// The new audience is in the library with the right size.
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/library?search=Shop+buyers"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="segment-row"]`))); err != nil {
		t.Fatal(err)
	}
	size, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="segment-row"] [data-testid="segment-size"]`)))
	if strings.TrimSpace(size) != strconv.FormatInt(result, 10) {
		t.Errorf("the new audience's size in the library is %q, want %d", size, result)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("browser console: %v", p)
	}
}

func TestBrowserWorkflowRefusedWithoutAudienceLibrary(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "tom", models.RoleMarketer)
	tab := webtest.Browser(t)
	browserLogin(t, tab, srv.URL, "tom")
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/workflows/new"),
		chromedp.SendKeys(chromedp.CSS(`#field-label`), "Mine"),
		chromedp.Click(chromedp.CSS(`[data-testid="workflow-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="palette-export"]`))); err != nil {
		t.Fatal(err)
	}
	disabled, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('[data-testid="palette-export"]').disabled`))
	hint, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.palette`)))
	if !disabled || !strings.Contains(hint, "Audience library") {
		t.Errorf("Update shared audience: disabled %v, palette says %q", disabled, hint)
	}
	webtest.Screenshot(t, tab, "workflow-refused")
}
