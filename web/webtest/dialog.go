package webtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// dialogFocus is a function of the page that answers where the focus is
// for the dialog matching sel, and, given "first" or "last", first moves
// it to that end of the dialog's tab order.
const dialogFocus = `((sel, end) => {
	const d = document.querySelector(sel);
	if (!d) return {found: false, inside: false, active: "", count: 0};
	const items = Array.prototype.filter.call(d.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"),
		(el) => !el.disabled && el.type !== "hidden" && el.tabIndex >= 0 && el.getClientRects().length > 0);
	if (end === "first" && items.length) items[0].focus();
	if (end === "last" && items.length) items[items.length - 1].focus();
	const a = document.activeElement;
	const name = a ? a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + (a.getAttribute("data-testid") ? '[data-testid="' + a.getAttribute("data-testid") + '"]' : "") : "nothing";
	return {found: true, inside: d.contains(a) && a !== d, active: name, count: items.length};
})`

type dialogFocusState struct {
	Found  bool   `json:"found"`
	Inside bool   `json:"inside"`
	Active string `json:"active"`
	Count  int    `json:"count"`
}

func focusIn(t testing.TB, ctx context.Context, dialog, end string) dialogFocusState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[dialogFocusState](fmt.Sprintf("%s(%q, %q)", dialogFocus, dialog, end)))
	if err != nil {
		t.Fatalf("dialog %s: %v", dialog, err)
	}
	if !st.Found {
		t.Fatalf("no dialog %s on the page", dialog)
	}
	return st
}

// DialogKeyboard checks, with the keyboard only, the modal dialog that the
// CSS selector dialog names, just opened from the element opener: the focus
// is inside it; Tab from its last control and Shift+Tab from its first stay
// inside it; Escape closes it and gives the focus back to opener. The
// dialog is closed when it returns.
func DialogKeyboard(t testing.TB, ctx context.Context, dialog, opener string) {
	t.Helper()
	if st := focusIn(t, ctx, dialog, ""); !st.Inside {
		t.Errorf("dialog %s: the focus is on %s, not inside the opened dialog", dialog, st.Active)
	}
	if st := focusIn(t, ctx, dialog, ""); st.Count < 2 {
		t.Fatalf("dialog %s has %d controls to Tab through", dialog, st.Count)
	}
	for _, c := range []struct {
		from string
		key  chromedp.Action[chromedp.Void]
		name string
	}{
		{"last", chromedp.KeyEvent(kb.Tab), "Tab from its last control"},
		{"first", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)), "Shift+Tab from its first control"},
	} {
		focusIn(t, ctx, dialog, c.from)
		if err := chromedp.Do(ctx, c.key); err != nil {
			t.Fatal(err)
		}
		if st := focusIn(t, ctx, dialog, ""); !st.Inside {
			t.Errorf("dialog %s: %s moved the focus out, to %s", dialog, c.name, st.Active)
		}
	}
	step, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.KeyEvent(kb.Escape), chromedp.WaitNotPresent(chromedp.CSS(dialog+"[open]"))); err != nil {
		t.Fatalf("dialog %s: Escape did not close it: %v", dialog, err)
	}
	back, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, opener)))
	if err != nil {
		t.Fatal(err)
	}
	if !back {
		active, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
		t.Errorf("dialog %s: after Escape the focus is on %s, not back on %s", dialog, active, opener)
	}
}
