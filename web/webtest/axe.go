package webtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeTags are the rule sets the console is held to: WCAG 2.1 A and AA and
// axe's best practices.
const axeTags = `["wcag2a","wcag2aa","wcag21a","wcag21aa","best-practice"]`

// axeRun runs axe-core on the whole document and keeps the violations a
// person cannot work around: those of impact serious or critical.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ` + axeTags + `}, resultTypes: ["violations"]})
	.then((r) => r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
		id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map((n) => ({target: n.target.map(String), html: n.html, summary: n.failureSummary || ""}))
	})))`

// AxeViolation is one rule that axe-core found broken on the page.
type AxeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []AxeNode `json:"nodes"`
}

// AxeNode is an element that breaks a rule.
type AxeNode struct {
	Target  []string `json:"target"`
	HTML    string   `json:"html"`
	Summary string   `json:"summary"`
}

// axeSource reads node_modules/axe-core/axe.min.js once per test binary.
var axeSource = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// go test runs in the package's folder: the repository root is the
	// nearest folder above it with a go.mod.
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's working directory")
		}
		dir = parent
	}
	path := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read axe-core (run npm ci, or make node_modules/.package-lock.json, in %s): %w", dir, err)
	}
	return string(src), nil
})

// Axe runs axe-core on the page the tab shows, as it is now (an open dialog
// included), and fails the test on every serious or critical violation of
// WCAG 2.1 A/AA or of axe's best practices, naming the rule, what it asks
// and the offending elements. name says which page in the failure.
//
// axe-core comes from npm (package-lock.json pins it) and is injected
// through DevTools, which the page's Content-Security-Policy does not
// govern: the console itself never serves it.
func Axe(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatalf("axe %s: %v", name, err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		t.Fatalf("axe %s: %v", name, err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;void 0")); err != nil {
			t.Fatalf("axe %s: inject axe-core: %v", name, err)
		}
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe %s: run: %v", name, err)
	}
	if len(violations) == 0 {
		return
	}
	var b strings.Builder
	for _, v := range violations {
		fmt.Fprintf(&b, "\n%s (%s): %s\n  %s", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n  - %s\n    %s", strings.Join(n.Target, " "), n.HTML)
			if n.Summary != "" {
				fmt.Fprintf(&b, "\n    %s", strings.ReplaceAll(n.Summary, "\n", "\n    "))
			}
		}
	}
	Screenshot(t, ctx, "axe-"+name)
	t.Errorf("axe: %d serious or critical accessibility violations on %s:%s", len(violations), name, b.String())
}
