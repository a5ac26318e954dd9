package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// objectsWorld is one of each object the console shows, made through the
// API as a user would, so that the matrix can ask for real ones.
type objectsWorld struct {
	recipient, list, listRun, workflow, workflowRun, sid, dpid int64
	importID, uploadID, operator                               int64
}

const objectsDPID = 4242

func seedObjects(t *testing.T, srv *webtest.Server, full *identity) objectsWorld {
	t.Helper()
	ctx := context.Background()
	var w objectsWorld
	for i := range 10 {
		in := models.RecipientInput{Email: fmt.Sprintf("obj%d@shop.example", i)}
		if i%2 == 0 {
			in.VisitorIDs = []string{fmt.Sprintf("%038d", 4200+i)}
		}
		r, err := srv.Store.CreateRecipient(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		w.recipient = r.ID
	}
	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: objectsDPID, Name: "Objects visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: "Objects audience", DataSourceID: objectsDPID})
	if err != nil {
		t.Fatal(err)
	}
	w.sid, w.dpid = seg.SID, objectsDPID
	builtin, err := srv.Store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	in := builtin.Input()
	in.AAMDataSourceID = fmt.Sprint(objectsDPID)
	if _, err := srv.Store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}

	c := full.client
	var list struct {
		ID    int64 `json:"id"`
		RunID int64 `json:"runId"`
	}
	c.API(http.MethodPost, "/api/v1/lists", full.token, map[string]any{"label": "Objects list", "sharedAudienceId": w.sid,
		"dataSource": models.DefaultDataSourceName}).JSON(t, &list)
	w.list, w.listRun = list.ID, list.RunID
	var wf struct {
		ID int64 `json:"id"`
	}
	c.API(http.MethodPost, "/api/v1/workflows", full.token, shopBuyers("Objects export")).JSON(t, &wf)
	w.workflow = wf.ID
	var queued struct {
		RunID int64 `json:"runId"`
	}
	c.API(http.MethodPost, fmt.Sprintf("/api/v1/workflows/%d/run", wf.ID), full.token, nil).JSON(t, &queued)
	w.workflowRun = queued.RunID
	for _, run := range []int64{w.listRun, w.workflowRun} {
		waitRunEnded(t, srv, run)
	}

	up := c.Upload("/recipients/import", "file", "objects.csv", []byte("email\nobj-import@shop.example\n"), nil)
	if up.Status >= 400 {
		t.Fatalf("upload: %d", up.Status)
	}
	w.uploadID = lastPathID(up.Location())
	if r := c.API(http.MethodPost, "/api/v1/recipients/import", full.token, "email\nobj-api@shop.example\n", "text/csv"); r.Status != http.StatusOK {
		t.Fatalf("API import: %d %s", r.Status, r.Body)
	}
	imports, err := srv.Store.ListImports(ctx, models.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports.Items) > 0 {
		w.importID = imports.Items[0].ID
	}
	w.operator = srv.Operator(t, "objects-someone", models.RoleMarketer).ID
	return w
}

func waitRunEnded(t *testing.T, srv *webtest.Server, id int64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r, err := srv.Store.RunByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == models.RunSucceeded || r.Status == models.RunFailed {
			return
		}
	}
	t.Fatalf("run #%d did not end in time", id)
}

func lastPathID(loc string) int64 {
	var id int64
	parts := strings.Split(strings.Trim(loc, "/"), "/")
	if len(parts) > 0 {
		_, _ = fmt.Sscan(parts[len(parts)-1], &id) // not a number: no id
	}
	return id
}

// objectPath fills a route's parameters with the world's objects, by the
// part of the console the route belongs to.
func (w objectsWorld) path(route string) string {
	parts := strings.Split(route, "/")
	area := ""
	for i, p := range parts {
		var v any
		switch {
		case !strings.HasPrefix(p, ":") && p != "*":
			if p != "" && p != "api" && p != "v1" && p != "aam" && p != "admin" {
				if area == "" || p == "imports" || p == "uploads" || p == "segments" || p == "datasources" || p == "runs" {
					area = p
				}
			}
			continue
		case p == "*":
			v = "vendor/htmx.min.js"
		case p == ":entitlement":
			v = models.AudienceLibrary
		case p == ":which" && i == len(parts)-1:
			v = "result.csv" // the download; .../result/list is the save form
		case p == ":which":
			v = "result"
		case p == ":name" || p == ":internalName":
			v = models.DefaultDataSourceName
		case p == ":sid":
			v = w.sid
		case p == ":dataSourceId":
			v = w.dpid
		case p == ":run":
			v = w.listRun
			if parts[1] == "workflows" {
				v = w.workflowRun
			}
		default:
			v = map[string]int64{"recipients": w.recipient, "imports": w.importID, "uploads": w.uploadID, "lists": w.list,
				"workflows": w.workflow, "operators": w.operator, "runs": w.listRun}[area]
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "/")
}

// TestAuthorizationMatrixOnRealObjects asks every page and API read of the
// matrix for objects that exist, as each identity: an identity the matrix
// lets through gets the object (not a 404, so the handler ran all its own
// checks), the others are refused. It also tries the checks that
// handlers make themselves, past the route's guard.
func TestAuthorizationMatrixOnRealObjects(t *testing.T) {
	srv := webtest.Start(t)
	ids := matrixIdentities(t, srv)
	full := ids[len(ids)-1]
	w := seedObjects(t, srv, full)
	if w.importID == 0 || w.uploadID == 0 {
		t.Fatalf("the world has no import (%d) or upload (%d)", w.importID, w.uploadID)
	}

	reads := 0
	for key, p := range authzMatrix {
		method, tmpl, _ := strings.Cut(key, " ")
		if method != http.MethodGet || !strings.Contains(tmpl, ":") && !strings.Contains(tmpl, "*") {
			continue // reads of an object; the other routes are tried by TestAuthorizationMatrix
		}
		reads++
		path := w.path(tmpl)
		for _, id := range ids {
			st, loc := send(t, id.client, method, path, id.token, id.client.CSRF, nil)
			toLogin := (st == http.StatusSeeOther || st == http.StatusFound) && strings.HasPrefix(loc, "/login")
			refused := st == http.StatusUnauthorized || st == http.StatusForbidden || toLogin
			switch {
			case p.allows(id) && (refused || st >= 400):
				t.Errorf("%s (%s) [%s] as %s: answered %d %s, want the object", key, path, p, id.name, st, loc)
			case !p.allows(id) && !refused:
				t.Errorf("%s (%s) [%s] as %s: answered %d, want a refusal", key, path, p, id.name, st)
			}
		}
	}

	if reads < 30 {
		t.Errorf("only %d reads of an object were tried", reads)
	}
	t.Logf("%d reads of real objects, each as %d identities", reads, len(ids))

	// Past the route's guard: adding the export activity needs Audience
	// library even though the canvas is open to every operator.
	for _, id := range ids[1:] {
		form := url.Values{"activity": {"export"}, "_csrf": {id.client.CSRF}}
		r := id.client.Post(fmt.Sprintf("/workflows/%d/activities", w.workflow), form)
		allowed := lib.allows(id)
		if allowed && r.Status >= 400 || !allowed && r.Status != http.StatusForbidden {
			t.Errorf("add the export activity as %s: answered %d, want allowed=%v", id.name, r.Status, allowed)
		}
	}
}
