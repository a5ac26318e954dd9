package web_test

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// policy says which of the matrix's identities may use a route.
type policy int

const (
	public   policy = iota // anyone, signed in or not
	signedIn               // any operator
	lib                    // the Audience library entitlement
	libAAM                 // Audience library and aam-admin (or aam-admin alone: no identity here has only that)
	admin                  // the admin role
)

func (p policy) String() string {
	return [...]string{"public", "signedIn", "lib", "libAAM", "admin"}[p]
}

// identity is one of the five callers the matrix tries.
type identity struct {
	name   string
	role   models.Role
	ents   []models.Entitlement
	client *webtest.Client
	token  string
}

// allows reports whether a policy lets an identity through.
func (p policy) allows(id *identity) bool {
	if id.client == nil || id.role == "" {
		return p == public
	}
	has := func(e models.Entitlement) bool {
		for _, x := range id.ents {
			if x == e {
				return true
			}
		}
		return false
	}
	switch p {
	case public, signedIn:
		return true
	case lib:
		return has(models.AudienceLibrary)
	case libAAM:
		return has(models.AudienceLibrary) && has(models.AAMAdmin)
	case admin:
		return id.role == models.RoleAdmin
	}
	return false
}

// authzMatrix maps every route to who may use it. A route missing here
// fails the test, so a new route cannot be added without deciding.
var authzMatrix = map[string]policy{
	"GET /static/*":                                         public,
	"GET /healthz":                                          public,
	"GET /readyz":                                           public,
	"GET /metrics":                                          public, // guarded by loopback or MetricsToken, not by sign-in
	"GET /login":                                            public,
	"POST /login":                                           public,
	"POST /logout":                                          public,
	"GET /api/openapi.json":                                 public,
	"GET /api/docs":                                         signedIn,
	"GET /":                                                 signedIn,
	"GET /account":                                          signedIn,
	"POST /account/password":                                signedIn,
	"POST /account/tokens":                                  signedIn,
	"POST /account/tokens/:id/revoke":                       signedIn,
	"GET /recipients":                                       signedIn,
	"GET /recipients/new":                                   signedIn,
	"GET /recipients/import":                                signedIn,
	"POST /recipients/import":                               signedIn,
	"GET /recipients/import/uploads/:id":                    signedIn,
	"POST /recipients/import/uploads/:id":                   signedIn,
	"GET /recipients/imports":                               signedIn,
	"GET /recipients/imports/:id":                           signedIn,
	"GET /recipients/imports/:id/rejected.csv":              signedIn,
	"POST /recipients":                                      signedIn,
	"GET /recipients/:id":                                   signedIn,
	"GET /recipients/:id/edit":                              signedIn,
	"POST /recipients/:id":                                  signedIn,
	"POST /recipients/:id/lists":                            signedIn,
	"GET /lists":                                            signedIn,
	"GET /lists/new":                                        signedIn,
	"POST /lists":                                           signedIn,
	"GET /lists/:id":                                        signedIn,
	"GET /lists/new/shared-audience":                        libAAM,
	"POST /lists/shared-audience":                           libAAM,
	"POST /lists/shared-audience/preview":                   libAAM,
	"POST /lists/:id/sync":                                  libAAM,
	"POST /lists/:id/schedule":                              libAAM,
	"POST /lists/:id/runs/:run/retry":                       libAAM,
	"GET /lists/:id/sync-status":                            signedIn,
	"GET /lists/:id/runs":                                   signedIn,
	"GET /lists/:id/runs/:run":                              signedIn,
	"GET /lists/:id/runs/:run/unrecognized.csv":             lib,
	"POST /lists/:id/members":                               signedIn,
	"POST /lists/:id/members/remove":                        signedIn,
	"POST /lists/:id/delete":                                signedIn,
	"GET /workflows":                                        signedIn,
	"GET /workflows/new":                                    signedIn,
	"POST /workflows":                                       signedIn,
	"GET /workflows/:id":                                    signedIn,
	"GET /workflows/:id/canvas":                             signedIn,
	"GET /workflows/:id/rename":                             signedIn,
	"POST /workflows/:id/rename":                            signedIn,
	"POST /workflows/:id/duplicate":                         signedIn,
	"POST /workflows/:id/delete":                            signedIn,
	"POST /workflows/:id/activities":                        signedIn, // the export activity is checked by the handler
	"POST /workflows/:id/activities/:activity/remove":       signedIn,
	"GET /workflows/:id/activities/query":                   signedIn,
	"POST /workflows/:id/activities/query":                  signedIn,
	"POST /workflows/:id/activities/query/row":              signedIn,
	"POST /workflows/:id/activities/query/count":            signedIn,
	"GET /workflows/:id/activities/export":                  lib,
	"POST /workflows/:id/activities/export":                 lib,
	"POST /workflows/:id/activities/export/preview":         lib,
	"POST /workflows/:id/run":                               lib,
	"GET /workflows/:id/run-status":                         signedIn,
	"GET /workflows/:id/runs":                               signedIn,
	"POST /workflows/:id/runs/:run/retry":                   lib,
	"POST /workflows/:id/schedule":                          lib,
	"GET /workflows/:id/runs/:run/transitions/:which":       signedIn,
	"GET /workflows/:id/runs/:run/transitions/:which/list":  signedIn,
	"POST /workflows/:id/runs/:run/transitions/:which/list": signedIn,
	"GET /library":                                          lib,
	"GET /library/segments/new":                             libAAM,
	"POST /library/segments/new":                            libAAM,
	"GET /library/segments/:sid":                            lib,
	"POST /library/segments/:sid":                           libAAM,
	"POST /library/segments/:sid/status":                    libAAM,
	"POST /library/segments/:sid/delete":                    libAAM,
	"POST /library/segments/:sid/members":                   libAAM,
	"POST /library/segments/:sid/members/upload":            libAAM,
	"GET /library/files":                                    libAAM,
	"POST /library/files":                                   libAAM,
	"GET /library/picker":                                   lib,
	"POST /library/picker/segments":                         lib,
	"GET /admin/operators":                                  admin,
	"GET /admin/operators/new":                              admin,
	"POST /admin/operators":                                 admin,
	"GET /admin/operators/:id":                              admin,
	"POST /admin/operators/:id":                             admin,
	"POST /admin/operators/:id/entitlements/:entitlement":   admin,
	"POST /admin/operators/:id/disable":                     admin,
	"POST /admin/operators/:id/enable":                      admin,
	"POST /admin/operators/:id/password":                    admin,
	"GET /admin/audit":                                      admin,
	"GET /admin/audit.csv":                                  admin,
	"GET /admin/diagnostics":                                admin,
	"POST /admin/diagnostics/webhook":                       admin,
	"POST /admin/diagnostics/webhook/delete":                admin,
	"GET /notifications":                                    signedIn,
	"POST /notifications/read":                              signedIn,
	"POST /notifications/:id/read":                          signedIn,
	"POST /notifications/webhook":                           signedIn,
	"POST /notifications/webhook/delete":                    signedIn,
	"GET /admin/external-accounts":                          admin,
	"POST /admin/external-accounts/:name":                   admin,
	"POST /admin/external-accounts/:name/test":              admin,
	"GET /admin/datasources":                                admin,
	"GET /admin/datasources/new":                            admin,
	"POST /admin/datasources":                               admin,
	"GET /admin/datasources/:name":                          admin,
	"POST /admin/datasources/:name":                         admin,
	"POST /admin/datasources/:name/delete":                  admin,
	"GET /api/v1/datasources":                               admin,
	"POST /api/v1/datasources":                              admin,
	"GET /api/v1/datasources/:internalName":                 admin,
	"PUT /api/v1/datasources/:internalName":                 admin,
	"DELETE /api/v1/datasources/:internalName":              admin,
	"GET /api/v1/recipients":                                signedIn,
	"POST /api/v1/recipients":                               signedIn,
	"POST /api/v1/recipients/import":                        signedIn,
	"GET /api/v1/recipients/:id":                            signedIn,
	"GET /api/v1/lists":                                     signedIn,
	"POST /api/v1/lists":                                    libAAM,
	"GET /api/v1/lists/:id":                                 signedIn,
	"GET /api/v1/lists/:id/members":                         signedIn,
	"POST /api/v1/lists/:id/sync":                           libAAM,
	"GET /api/v1/runs":                                      signedIn,
	"GET /api/v1/runs/:id":                                  signedIn,
	"POST /api/v1/runs/:id/retry":                           signedIn, // checked by the handler per run kind
	"GET /api/v1/runs/:id/unrecognized":                     lib,
	"GET /api/v1/workflows":                                 signedIn,
	"POST /api/v1/workflows":                                lib,
	"GET /api/v1/workflows/:id":                             signedIn,
	"POST /api/v1/workflows/:id/run":                        lib,
	"GET /aam/v1/datasources":                               lib,
	"POST /aam/v1/datasources":                              libAAM,
	"GET /aam/v1/datasources/:dataSourceId":                 lib,
	"GET /aam/v1/segments":                                  lib,
	"POST /aam/v1/segments":                                 libAAM,
	"GET /aam/v1/segments/:sid":                             lib,
	"PUT /aam/v1/segments/:sid":                             libAAM,
	"DELETE /aam/v1/segments/:sid":                          libAAM,
	"GET /aam/v1/segments/:sid/members":                     lib,
	"PUT /aam/v1/segments/:sid/members":                     libAAM,
	"POST /aam/v1/segments/:sid/members":                    libAAM,
	"DELETE /aam/v1/segments/:sid/members":                  libAAM,
	"POST /aam/v1/files":                                    libAAM,
}

// echoNotFound is the method of the routes Echo registers itself for
// groups' not-found answers: they are no part of the console's surface.
const echoNotFound = "echo_route_not_found"

// knownHoles lists routes whose actual access differs from the matrix, to be
// fixed in the handlers; keyed "METHOD path identity".
var knownHoles = map[string]string{}

// matrixPath fills a route's parameters with ids that exist nowhere: every
// guard runs before the handler looks the object up, so a refusal shows as
// 401/403 and a pass as a 404 (or 400/422), and nothing real is changed.
func matrixPath(route string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		switch {
		case p == "*":
			parts[i] = "app.css"
		case p == ":entitlement":
			parts[i] = string(models.AudienceLibrary)
		case p == ":which":
			parts[i] = "entered"
		case p == ":name", p == ":internalName":
			parts[i] = "no-such-source"
		case strings.HasPrefix(p, ":"):
			parts[i] = "999999"
		}
	}
	return strings.Join(parts, "/")
}

func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/aam/v1/") || path == "/api/v1" || path == "/aam/v1"
}

// send makes a request without webtest's API description check: the matrix
// sends empty bodies on purpose.
func send(t *testing.T, c *webtest.Client, method, path, token, csrf string, header map[string]string) (int, string) {
	t.Helper()
	var form url.Values
	req := c.Request(method, path, nil)
	if method != http.MethodGet && !isAPI(path) {
		form = url.Values{}
		if csrf != "" {
			form.Set("_csrf", csrf)
			req = c.Request(method, path, strings.NewReader(form.Encode()))
			req.Header.Set("X-CSRF-Token", csrf)
		} else {
			req = c.Request(method, path, strings.NewReader(form.Encode()))
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if isAPI(path) {
		req.Header.Set("Accept", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// matrixIdentities signs in the five identities, the full admin last.
func matrixIdentities(t *testing.T, srv *webtest.Server) []*identity {
	t.Helper()
	ids := []*identity{
		{name: "anonymous"},
		{name: "marketer", role: models.RoleMarketer},
		{name: "marketer-lib", role: models.RoleMarketer, ents: []models.Entitlement{models.AudienceLibrary}},
		{name: "admin-lib", role: models.RoleAdmin, ents: []models.Entitlement{models.AudienceLibrary}},
		{name: "admin-full", role: models.RoleAdmin, ents: []models.Entitlement{models.AudienceLibrary, models.AAMAdmin}},
	}
	signIn := func(id *identity) {
		if id.role == "" {
			id.client = srv.Client(t)
			id.client.Get("/login") // a session and its CSRF token
			return
		}
		c, op := srv.SignedIn(t, "authz-"+id.name, id.role, id.ents...)
		id.client, id.token = c, srv.Token(t, op)
	}
	for _, id := range ids {
		signIn(id)
	}
	return ids
}

func TestAuthorizationMatrix(t *testing.T) {
	srv := webtest.Start(t)
	ids := matrixIdentities(t, srv)
	full := ids[len(ids)-1]

	var routes []string
	seen := map[string]bool{}
	for _, r := range srv.Echo.Routes() {
		key := r.Method + " " + r.Path
		if r.Method == echoNotFound || seen[key] {
			continue
		}
		seen[key] = true
		if _, ok := authzMatrix[key]; !ok {
			t.Errorf("route %s is not in the authorization matrix: decide who may use it", key)
			continue
		}
		routes = append(routes, key)
	}
	for key := range authzMatrix {
		if !seen[key] {
			t.Errorf("the matrix lists %s, which is not a route any more", key)
		}
	}
	// Logout ends the session: it goes last.
	sort.SliceStable(routes, func(i, j int) bool { return routes[j] == "POST /logout" && routes[i] != routes[j] })

	// CSRF: every unsafe console route refuses the full admin without the
	// token, and with it when the browser says the request is cross-site.
	for _, key := range routes {
		method, tmpl, _ := strings.Cut(key, " ")
		if method == http.MethodGet || isAPI(tmpl) {
			continue
		}
		path := matrixPath(tmpl)
		if st, _ := send(t, full.client, method, path, "", "", nil); st != http.StatusForbidden {
			t.Errorf("CSRF: %s without a token answered %d, want 403", key, st)
		}
		if st, _ := send(t, full.client, method, path, "", full.client.CSRF, map[string]string{"Sec-Fetch-Site": "cross-site"}); st != http.StatusForbidden {
			t.Errorf("CSRF: %s from a cross-site request answered %d, want 403", key, st)
		}
	}

	for _, key := range routes {
		method, tmpl, _ := strings.Cut(key, " ")
		p := authzMatrix[key]
		path := matrixPath(tmpl)
		for _, id := range ids {
			st, loc := send(t, id.client, method, path, id.token, id.client.CSRF, nil)
			// Signing out sends everyone to /login: that is its answer, not a refusal.
			toLogin := (st == http.StatusSeeOther || st == http.StatusFound) && strings.HasPrefix(loc, "/login") && key != "POST /logout"
			refused := st == http.StatusUnauthorized || st == http.StatusForbidden || toLogin
			hole := knownHoles[key+" "+id.name]
			switch {
			case hole != "":
				t.Logf("known hole: %s as %s answered %d (%s)", key, id.name, st, hole)
			case p.allows(id) && refused:
				t.Errorf("%s [%s] as %s: answered %d %s, want it allowed", key, p, id.name, st, loc)
			case p.allows(id):
			case id.role == "" && isAPI(tmpl) && st != http.StatusUnauthorized:
				t.Errorf("%s [%s] anonymous: answered %d, want 401", key, p, st)
			case id.role == "" && !isAPI(tmpl) && !toLogin && st != http.StatusUnauthorized:
				t.Errorf("%s [%s] anonymous: answered %d %s, want a redirect to /login or 401", key, p, st, loc)
			case id.role != "" && st != http.StatusForbidden:
				t.Errorf("%s [%s] as %s: answered %d %s, want 403", key, p, id.name, st, loc)
			}
			if st >= 500 {
				t.Logf("%s as %s: %d", key, id.name, st)
			}
		}
	}
}
