package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/web/session"
	"audiencebridge/web/webtest"
)

func sessionCookie(t *testing.T, c *webtest.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == session.CookieName {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func TestAnonymousIsSentToSignIn(t *testing.T) {
	srv := webtest.Start(t)
	c := srv.Client(t)
	if r := c.Get("/"); r.Status != http.StatusSeeOther || r.Location() != "/login" {
		t.Fatalf("GET / = %d %q", r.Status, r.Location())
	}
	r := c.Get("/admin/operators?search=x")
	if r.Status != http.StatusSeeOther || r.Location() != "/login?next="+url.QueryEscape("/admin/operators?search=x") {
		t.Fatalf("GET /admin/operators = %d %q", r.Status, r.Location())
	}
	// An HTMX request is told where to go instead of getting a page to swap in.
	c.Get("/login")
	h := c.HTMX(http.MethodGet, "/admin/operators", "operator-results", nil)
	if h.Status != http.StatusUnauthorized || !strings.HasPrefix(h.Header.Get("HX-Redirect"), "/login") {
		t.Fatalf("HTMX = %d %q", h.Status, h.Header.Get("HX-Redirect"))
	}
}

func TestSignInRotatesSessionAndSignOutEndsItOnTheServer(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "mia", models.RoleMarketer)
	c := srv.Client(t)
	first := c.Get("/login")
	setCookie := strings.Join(first.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(setCookie, session.CookieName+"=") || !strings.Contains(setCookie, "HttpOnly") ||
		!strings.Contains(setCookie, "SameSite=Lax") || strings.Contains(setCookie, "Secure") {
		t.Fatalf("cookie flags over plain HTTP: %s", setCookie)
	}
	before := sessionCookie(t, c, srv.URL)
	r := c.Post("/login", url.Values{"login": {"MIA"}, "password": {webtest.Password}, "next": {"/lists"}})
	if r.Status != http.StatusSeeOther || r.Location() != "/lists" {
		t.Fatalf("sign-in = %d %q", r.Status, r.Location())
	}
	after := sessionCookie(t, c, srv.URL)
	if after.Value == before.Value {
		t.Fatal("the session cookie did not change at sign-in")
	}
	// A cookie planted before sign-in (session fixation) is not signed in.
	planted := srv.Client(t)
	u, _ := url.Parse(srv.URL)
	planted.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieName, Value: before.Value}})
	if r := planted.Get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("pre-sign-in cookie reached the console: %d", r.Status)
	}
	// A copy of the signed-in cookie works until sign-out, then never again.
	thief := srv.Client(t)
	thief.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: session.CookieName, Value: after.Value}})
	if r := thief.Get("/"); r.Status != http.StatusOK {
		t.Fatalf("copied cookie before sign-out: %d", r.Status)
	}
	home := c.Get("/")
	if home.Text(`[data-testid="topbar-user"] .topbar-user-name`) != "mia" {
		t.Fatalf("top bar = %q", home.Text(`[data-testid="topbar-user"]`))
	}
	if r := c.Post("/logout", nil); r.Status != http.StatusSeeOther || r.Location() != "/login" {
		t.Fatalf("sign-out = %d %q", r.Status, r.Location())
	}
	if r := thief.Get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("copied cookie after sign-out: %d", r.Status)
	}
	if r := c.Get("/login"); !strings.Contains(r.Text(`[data-testid="flash"]`), "signed out") {
		t.Fatalf("no sign-out message: %q", r.Text(".auth-card"))
	}
}

func TestSignInRefusals(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "mia", models.RoleMarketer)
	gone := srv.Operator(t, "gone", models.RoleMarketer)
	admin := srv.Operator(t, "root", models.RoleAdmin)
	if _, err := srv.Store.SetOperatorDisabled(context.Background(), models.ActorOf(admin), gone.ID, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, login, password string
		status                int
		message               string
	}{
		{"wrong password", "mia", "not-the-password", 401, "The login or the password is wrong."},
		{"unknown login", "nobody", "whatever-it-is", 401, "The login or the password is wrong."},
		{"empty", "", "", 422, "Enter your login and your password."},
		{"over-long login", strings.Repeat("m", 65), "whatever-it-is", 422, "at most 64 characters"},
		{"over-long password", "mia", strings.Repeat("p", 129), 422, "at most 128 characters"},
		{"disabled operator", "gone", webtest.Password, 403, "this operator is disabled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Client(t)
			c.Get("/login")
			r := c.Post("/login", url.Values{"login": {tc.login}, "password": {tc.password}})
			if r.Status != tc.status || !strings.Contains(strings.ToLower(r.Text(`[data-testid="login-error"]`)), strings.ToLower(tc.message)) {
				t.Fatalf("= %d %q, want %d %q", r.Status, r.Text(`[data-testid="login-error"]`), tc.status, tc.message)
			}
			if r := c.Get("/"); r.Status != http.StatusSeeOther {
				t.Fatal("refused sign-in still signed in")
			}
		})
	}
}

func TestSignInIsThrottled(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "mia", models.RoleMarketer)
	c := srv.Client(t)
	c.Get("/login")
	for i := 0; i < models.MaxFailuresPerLogin; i++ {
		if r := c.Post("/login", url.Values{"login": {"mia"}, "password": {"guess-" + string(rune('a'+i))}}); r.Status != 401 {
			t.Fatalf("failure %d = %d", i, r.Status)
		}
	}
	r := c.Post("/login", url.Values{"login": {"mia"}, "password": {webtest.Password}})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(r.Text(`[data-testid="login-error"]`), "try again in 15 minutes") {
		t.Fatalf("throttled = %d %q retry-after %q", r.Status, r.Text(`[data-testid="login-error"]`), r.Header.Get("Retry-After"))
	}
	srv.Clock.Advance(models.ThrottleWindow + time.Second)
	if r := c.Post("/login", url.Values{"login": {"mia"}, "password": {webtest.Password}}); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window = %d", r.Status)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{SessionPolicy: models.SessionPolicy{Idle: 30 * time.Minute, MaxAge: 12 * time.Hour}})
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	srv.Clock.Advance(29 * time.Minute)
	if r := c.Get("/lists"); r.Status != http.StatusOK {
		t.Fatalf("within idle limit = %d", r.Status)
	}
	srv.Clock.Advance(31 * time.Minute)
	r := c.Get("/lists")
	if r.Status != http.StatusSeeOther || r.Location() != "/login?next=%2Flists" {
		t.Fatalf("after idle limit = %d %q", r.Status, r.Location())
	}
	if r := c.Get(r.Location()); !strings.Contains(r.Text(".auth-card"), "Your session has expired") {
		t.Fatalf("no expiry message: %q", r.Text(".auth-card"))
	}
}

func TestCSRFIsRequiredOnEveryUnsafeRequest(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	create := url.Values{"login": {"eve"}, "role": {"marketer"}, "password": {"long enough"}}
	cases := []struct {
		name   string
		token  string
		header map[string]string
		want   string
	}{
		{"no token", "", nil, "this form has expired"},
		{"forged token", "forged-token-value", nil, "this form has expired"},
		{"cross-site with a valid token", c.CSRF, map[string]string{"Sec-Fetch-Site": "cross-site"}, "came from another site"},
		{"same-origin without a token", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, "this form has expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range create {
				form[k] = v
			}
			form.Set("_csrf", tc.token)
			req := c.Request(http.MethodPost, "/admin/operators", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			r := c.Do(req)
			if r.Status != http.StatusForbidden || !strings.Contains(strings.ToLower(r.Text(`[data-testid="error-message"]`)), tc.want) {
				t.Fatalf("= %d %q", r.Status, r.Text(`[data-testid="error-message"]`))
			}
		})
	}
	if _, err := srv.Store.OperatorByLogin(context.Background(), "eve"); err == nil {
		t.Fatal("a refused request created the operator")
	}
	// Sign-out is unsafe too: without the token it does nothing.
	if r := c.Post("/logout", url.Values{"_csrf": {""}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-out without token = %d", r.Status)
	}
	if r := c.Get("/"); r.Status != http.StatusOK {
		t.Fatal("refused sign-out signed out")
	}
	// The sign-in form is protected against login CSRF as well.
	anon := srv.Client(t)
	if r := anon.Post("/login", url.Values{"login": {"root"}, "password": {webtest.Password}}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-in without token = %d", r.Status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := webtest.Start(t)
	r := srv.Client(t).Get("/login")
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "same-origin",
		"Cache-Control":          "no-store",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if r.Doc.Find("script:not([src])").Length() != 0 {
		t.Error("inline script on the sign-in page")
	}
}

func TestStaticAssetsAreVersioned(t *testing.T) {
	srv := webtest.Start(t)
	c := srv.Client(t)
	page := c.Get("/login")
	src, ok := page.Doc.Find(`script[src*="htmx"]`).Attr("src")
	if !ok || !strings.Contains(src, "?v=") {
		t.Fatalf("htmx script = %q", src)
	}
	r := c.Get(src)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || !strings.Contains(r.Body, "htmx") {
		t.Fatalf("htmx = %d %q", r.Status, r.Header.Get("Cache-Control"))
	}
	if r := c.Get("/static/css/nope.css"); r.Status != http.StatusNotFound {
		t.Fatalf("missing asset = %d", r.Status)
	}
}

func TestHealthz(t *testing.T) {
	srv := webtest.Start(t)
	c := srv.Client(t)
	if r := c.Get("/healthz"); r.Status != 200 || !strings.Contains(r.Body, `"status":"ok"`) {
		t.Fatalf("healthz = %d %s", r.Status, r.Body)
	}
	if err := srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if r := c.Get("/healthz"); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the database gone = %d %s", r.Status, r.Body)
	}
}

func TestFriendlyNotFound(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	r := c.Get("/no/such/page")
	if r.Status != 404 || !r.Has(`[data-testid="error-404"]`) || !r.Has(`nav.tree`) {
		t.Fatalf("404 = %d %q", r.Status, r.Text("main"))
	}
	if r := c.Get("/admin/operators/999999"); r.Status != 404 || !strings.Contains(r.Text(`[data-testid="error-message"]`), "operator #999999 does not exist") {
		t.Fatalf("missing operator = %d %q", r.Status, r.Text(`[data-testid="error-message"]`))
	}
	if r := c.Get("/admin/operators/abc"); r.Status != 404 {
		t.Fatalf("malformed id = %d", r.Status)
	}
}

func TestEntitlementGuardExplainsWhatIsMissing(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "trainee", models.RoleMarketer)
	r := c.Get("/library")
	if r.Status != http.StatusForbidden || !r.Has(`[data-testid="missing-audience-library"]`) ||
		!strings.Contains(r.Text(`[data-testid="access-denied"]`), "An administrator grants") {
		t.Fatalf("library as trainee = %d %q", r.Status, r.Text("main"))
	}
	ok, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary)
	if r := ok.Get("/library"); r.Status != http.StatusOK {
		t.Fatalf("library with the entitlement = %d", r.Status)
	}
}

func TestCookiesAreSecureOverTLS(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{TLS: true})
	srv.Operator(t, "mia", models.RoleMarketer)
	c := srv.Client(t)
	r := c.Get("/login")
	if sc := strings.Join(r.Header.Values("Set-Cookie"), "\n"); !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("Set-Cookie over TLS: %s", sc)
	}
	if !strings.Contains(r.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Error("no HSTS over TLS")
	}
	c.Login("mia", webtest.Password)
}

func TestNoSecretIsLogged(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	c.Get("/login")
	c.Post("/login", url.Values{"login": {"mia"}, "password": {"a-wrong-secret-guess"}})
	ck := sessionCookie(t, c, srv.URL)
	logs := srv.Log.String()
	for _, secret := range []string{webtest.Password, "a-wrong-secret-guess", ck.Value, c.CSRF} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret: %q", secret)
		}
	}
	if !strings.Contains(logs, "operator signed in") {
		t.Errorf("sign-in not logged at all: %s", logs)
	}
}

func TestOverLongInputIsRefused(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	long := c.Post("/admin/operators", url.Values{"login": {strings.Repeat("a", 65)}, "name": {strings.Repeat("n", 129)},
		"email": {strings.Repeat("e", 250) + "@x.io"}, "role": {"marketer"}, "password": {strings.Repeat("p", 129)}})
	if long.Status != http.StatusUnprocessableEntity {
		t.Fatalf("over-long fields = %d", long.Status)
	}
	for _, f := range []string{"login", "name", "email", "password"} {
		if !strings.Contains(long.Text(`[data-testid="error-`+f+`"]`), "at most") {
			t.Errorf("%s: %q", f, long.Text(`[data-testid="error-`+f+`"]`))
		}
	}
	huge := c.Post("/admin/operators", url.Values{"name": {strings.Repeat("x", 2<<20)}})
	if huge.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MB form = %d", huge.Status)
	}
	if n, _ := srv.Store.CountOperators(context.Background()); n != 1 {
		t.Fatalf("refused forms created operators: %d", n)
	}
}
