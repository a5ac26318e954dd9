package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"audiencebridge/library/librarytest"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// aamEnv is a console with operators of every combination of the library
// entitlements, each with an API token.
type aamEnv struct {
	srv *webtest.Server
	c   *webtest.Client
	// full has both entitlements; reader only audience-library; writerOnly
	// only aam-admin; none neither (an admin: the role grants no rights in
	// the library).
	full, reader, writerOnly, none string
}

func startAAM(t *testing.T) *aamEnv {
	t.Helper()
	srv := webtest.Start(t)
	return &aamEnv{srv: srv, c: srv.Client(t),
		full:       srv.Token(t, srv.Operator(t, "ana", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)),
		reader:     srv.Token(t, srv.Operator(t, "rob", models.RoleMarketer, models.AudienceLibrary)),
		writerOnly: srv.Token(t, srv.Operator(t, "wes", models.RoleMarketer, models.AAMAdmin)),
		none:       srv.Token(t, srv.Operator(t, "nia", models.RoleAdmin))}
}

// call sends an API call with the full-rights token and checks its status.
func (e *aamEnv) call(t *testing.T, method, path string, body any, status int, contentType ...string) *webtest.Response {
	t.Helper()
	r := e.c.API(method, path, e.full, body, contentType...)
	if r.Status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	return r
}

// seed creates a visitor-ID data source, a declared-ID one (777) and a
// segment on the first, and returns the segment's sid.
func (e *aamEnv) seed(t *testing.T) int64 {
	t.Helper()
	e.call(t, http.MethodPost, "/aam/v1/datasources", map[string]any{"name": "Web visitors", "idType": "COOKIE"}, http.StatusCreated)
	e.call(t, http.MethodPost, "/aam/v1/datasources", map[string]any{"dataSourceId": 777, "name": "CRM", "idType": "CROSS_DEVICE",
		"integrationCode": "AdobeCampaignID"}, http.StatusCreated)
	r := e.call(t, http.MethodPost, "/aam/v1/segments", map[string]any{"name": "Cart abandoners", "description": "Left a cart",
		"integrationCode": "cart-1", "dataSourceId": 100001, "source": "Analytics"}, http.StatusCreated)
	var seg struct{ SID int64 }
	r.JSON(t, &seg)
	return seg.SID
}

// sameJSON compares an answer with the JSON it should be, field for field;
// createTime and updateTime, wherever they are, must be recent milliseconds
// and are compared as "T".
func sameJSON(t *testing.T, r *webtest.Response, want string) {
	t.Helper()
	var got, exp any
	r.JSON(t, &got)
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	got = stampTimes(t, got)
	if !reflect.DeepEqual(got, exp) {
		g, _ := json.Marshal(got)
		t.Fatalf("answer:\n%s\nwant:\n%s", g, want)
	}
}

func stampTimes(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "createTime" || k == "updateTime" {
				ms, ok := val.(float64)
				if !ok || time.Since(time.UnixMilli(int64(ms))).Abs() > time.Minute {
					t.Fatalf("%s = %v is not milliseconds since the epoch of now", k, val)
				}
				x[k] = "T"
				continue
			}
			x[k] = stampTimes(t, val)
		}
	case []any:
		for i := range x {
			x[i] = stampTimes(t, x[i])
		}
	}
	return v
}

func TestAAMEntitlements(t *testing.T) {
	e := startAAM(t)
	sid := e.seed(t)
	seg := fmt.Sprintf("/aam/v1/segments/%d", sid)
	segBody := map[string]any{"name": "Renamed", "dataSourceId": 100001}
	routes := []struct {
		method, path string
		body         any
		write        bool
		ok           int
	}{
		{http.MethodGet, "/aam/v1/datasources", nil, false, 200},
		{http.MethodGet, "/aam/v1/datasources/777", nil, false, 200},
		{http.MethodGet, "/aam/v1/segments", nil, false, 200},
		{http.MethodGet, seg, nil, false, 200},
		{http.MethodGet, "/aam/v1/segments/ic:cart-1", nil, false, 200},
		{http.MethodGet, seg + "/members", nil, false, 200},
		{http.MethodPost, "/aam/v1/datasources", map[string]any{"name": "More", "idType": "COOKIE"}, true, 201},
		{http.MethodPost, "/aam/v1/segments", map[string]any{"name": "New", "dataSourceId": 777}, true, 201},
		{http.MethodPut, seg, segBody, true, 200},
		{http.MethodPut, seg + "/members", librarytest.ECID(1) + "\n", true, 200},
		{http.MethodPost, seg + "/members", librarytest.ECID(2) + "\n", true, 200},
		{http.MethodDelete, seg + "/members", librarytest.ECID(2) + "\n", true, 200},
		{http.MethodDelete, seg, nil, true, 204},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		call := func(token string) *webtest.Response { return e.c.API(rt.method, rt.path, token, rt.body, "text/plain") }
		if r := call(""); r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Bearer") {
			t.Errorf("%s without a token = %d %s", name, r.Status, r.Body)
		}
		if r := call("not-a-token"); r.Status != http.StatusUnauthorized {
			t.Errorf("%s with a bad token = %d %s", name, r.Status, r.Body)
		}
		missing := map[bool]string{false: "audience-library", true: "aam-admin"}[rt.write]
		if r := call(e.none); r.Status != http.StatusForbidden || !strings.Contains(r.Body, missing) {
			t.Errorf("%s without entitlements = %d %s", name, r.Status, r.Body)
		}
		if !rt.write {
			if r := call(e.writerOnly); r.Status != http.StatusForbidden || !strings.Contains(r.Body, "audience-library") {
				t.Errorf("%s by aam-admin alone = %d %s", name, r.Status, r.Body)
			}
			if r := call(e.reader); r.Status != rt.ok {
				t.Errorf("%s by a reader = %d %s", name, r.Status, r.Body)
			}
			if r := call(e.full); r.Status != rt.ok {
				t.Errorf("%s with both entitlements = %d %s", name, r.Status, r.Body)
			}
			continue
		}
		r := call(e.reader)
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "aam-admin") || strings.Contains(r.Body, "audience-library") {
			t.Errorf("%s by a reader = %d %s", name, r.Status, r.Body)
		}
		if r := call(e.full); r.Status != rt.ok {
			t.Errorf("%s with both entitlements = %d %s", name, r.Status, r.Body)
		}
		// Writing needs aam-admin alone; the segment may be gone by now.
		if r := call(e.writerOnly); r.Status != rt.ok && !(rt.ok == 204 && r.Status == 404) {
			t.Errorf("%s by aam-admin alone = %d %s", name, r.Status, r.Body)
		}
	}
}

func TestAAMDataSources(t *testing.T) {
	e := startAAM(t)
	r := e.call(t, http.MethodPost, "/aam/v1/datasources", map[string]any{"name": "Web visitors", "description": "ECIDs", "idType": "COOKIE"}, 201)
	sameJSON(t, r, `{"dataSourceId":100001,"name":"Web visitors","description":"ECIDs","integrationCode":"","idType":"COOKIE","status":"ACTIVE"}`)
	if r.Header.Get("Location") != "/aam/v1/datasources/100001" {
		t.Errorf("Location = %q", r.Header.Get("Location"))
	}
	e.call(t, http.MethodPost, "/aam/v1/datasources", map[string]any{"dataSourceId": 777, "name": "CRM", "idType": "CROSS_DEVICE",
		"integrationCode": "AdobeCampaignID", "status": "INACTIVE"}, 201)
	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/datasources/777", nil, 200),
		`{"dataSourceId":777,"name":"CRM","description":"","integrationCode":"AdobeCampaignID","idType":"CROSS_DEVICE","status":"INACTIVE"}`)
	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/datasources", nil, 200), `{"total":2,"page":0,"pageSize":25,"list":[
		{"dataSourceId":777,"name":"CRM","description":"","integrationCode":"AdobeCampaignID","idType":"CROSS_DEVICE","status":"INACTIVE"},
		{"dataSourceId":100001,"name":"Web visitors","description":"ECIDs","integrationCode":"","idType":"COOKIE","status":"ACTIVE"}]}`)
	r = e.call(t, http.MethodGet, "/aam/v1/datasources?sortBy=name&descending=true&pageSize=1&page=0", nil, 200)
	if !strings.Contains(r.Body, `"total":2,"page":0,"pageSize":1,"list":[{"dataSourceId":100001,`) {
		t.Errorf("sorted page = %s", r.Body)
	}
	r = e.call(t, http.MethodGet, "/aam/v1/datasources?search=campaign", nil, 200)
	if !strings.Contains(r.Body, `"total":1,`) || !strings.Contains(r.Body, `"dataSourceId":777`) {
		t.Errorf("search = %s", r.Body)
	}

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
		says   string
	}{
		{"duplicate id", "POST", "/aam/v1/datasources", map[string]any{"dataSourceId": 777, "name": "x", "idType": "COOKIE"}, 409, "dataSourceId", "already exists"},
		{"duplicate integration code", "POST", "/aam/v1/datasources", map[string]any{"name": "x", "idType": "COOKIE", "integrationCode": "AdobeCampaignID"}, 409, "integrationCode", "AdobeCampaignID"},
		{"bad id type", "POST", "/aam/v1/datasources", map[string]any{"name": "x", "idType": "EMAIL"}, 400, "idType", "COOKIE"},
		{"no name", "POST", "/aam/v1/datasources", map[string]any{"idType": "COOKIE"}, 400, "name", "enter a name"},
		{"id as a string", "POST", "/aam/v1/datasources", map[string]any{"dataSourceId": "777", "name": "x", "idType": "COOKIE"}, 400, "dataSourceId", "JSON number"},
		{"unknown field", "POST", "/aam/v1/datasources", map[string]any{"name": "x", "idType": "COOKIE", "colour": "red"}, 400, "colour", `unknown field "colour"`},
		{"malformed JSON", "POST", "/aam/v1/datasources", `{"name":`, 400, "", "not valid JSON"},
		{"unknown id", "GET", "/aam/v1/datasources/424242", nil, 404, "", "424242 does not exist"},
		{"id that is not a number", "GET", "/aam/v1/datasources/abc", nil, 404, "", "does not exist"},
		{"bad sort", "GET", "/aam/v1/datasources?sortBy=size", nil, 400, "sortBy", "dataSourceId or name"},
		{"bad page", "GET", "/aam/v1/datasources?page=-1", nil, 400, "page", "whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.c.API(tc.method, tc.path, e.full, tc.body)
			var body map[string]string
			r.JSON(t, &body)
			if r.Status != tc.status || body["field"] != tc.field || !strings.Contains(body["error"], tc.says) {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
		})
	}
	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/datasources?pageSize=1", nil, 200), `{"total":2,"page":0,"pageSize":1,"list":[
		{"dataSourceId":777,"name":"CRM","description":"","integrationCode":"AdobeCampaignID","idType":"CROSS_DEVICE","status":"INACTIVE"}]}`)
}

func TestAAMSegments(t *testing.T) {
	e := startAAM(t)
	sid := e.seed(t)
	cart := fmt.Sprintf(`{"sid":%d,"name":"Cart abandoners","description":"Left a cart","integrationCode":"cart-1","dataSourceId":100001,
		"status":"ACTIVE","source":"Analytics","author":"ana","size":0,"createTime":"T","updateTime":"T"}`, sid)
	sameJSON(t, e.call(t, http.MethodGet, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 200), cart)
	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/segments/ic:cart-1", nil, 200), cart)

	r := e.call(t, http.MethodPost, "/aam/v1/segments", map[string]any{"name": "Spring sale", "integrationCode": "spring sale",
		"dataSourceId": 777, "status": "INACTIVE", "source": "Campaign", "author": "crm-bot"}, 201)
	var spring struct{ SID int64 }
	r.JSON(t, &spring)
	if r.Header.Get("Location") != fmt.Sprintf("/aam/v1/segments/%d", spring.SID) {
		t.Errorf("Location = %q", r.Header.Get("Location"))
	}
	springJSON := fmt.Sprintf(`{"sid":%d,"name":"Spring sale","description":"","integrationCode":"spring sale","dataSourceId":777,
		"status":"INACTIVE","source":"Campaign","author":"crm-bot","size":0,"createTime":"T","updateTime":"T"}`, spring.SID)
	sameJSON(t, r, springJSON)
	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/segments/ic:"+url.PathEscape("spring sale"), nil, 200), springJSON)
	e.call(t, http.MethodPost, "/aam/v1/segments", map[string]any{"name": "Newsletter", "dataSourceId": 777}, 201)

	sameJSON(t, e.call(t, http.MethodGet, "/aam/v1/segments?sortBy=name&pageSize=2", nil, 200), fmt.Sprintf(`{"total":3,"page":0,"pageSize":2,
		"list":[%s,{"sid":%d,"name":"Newsletter","description":"","integrationCode":"","dataSourceId":777,"status":"ACTIVE",
		"source":"Audience Manager","author":"ana","size":0,"createTime":"T","updateTime":"T"}]}`, cart, spring.SID+1))
	for query, want := range map[string]string{
		"sortBy=name&descending=true":   `"list":[{"sid":` + fmt.Sprint(spring.SID) + `,"name":"Spring sale"`,
		"sortBy=name&page=1&pageSize=2": `"total":3,"page":1,"pageSize":2,"list":[{"sid":` + fmt.Sprint(spring.SID) + `,`,
		"search=CART":                   `"total":1,`,
		"dataSourceId=777":              `"total":2,`,
		"sortBy=source":                 `"list":[{"sid":` + fmt.Sprint(sid) + `,`,
		"search=nothing":                `"total":0,"page":0,"pageSize":25,"list":[]}`,
	} {
		if r := e.call(t, http.MethodGet, "/aam/v1/segments?"+query, nil, 200); !strings.Contains(r.Body, want) {
			t.Errorf("?%s = %s, want %s", query, r.Body, want)
		}
	}

	r = e.call(t, http.MethodPut, fmt.Sprintf("/aam/v1/segments/%d", sid), map[string]any{"name": "Cart abandoners (30 days)",
		"integrationCode": "cart-1", "status": "INACTIVE", "source": "Analytics", "sid": sid, "size": 0, "createTime": 1, "updateTime": 2}, 200)
	sameJSON(t, r, strings.NewReplacer(`"Cart abandoners"`, `"Cart abandoners (30 days)"`, `"description":"Left a cart"`, `"description":""`,
		`"status":"ACTIVE"`, `"status":"INACTIVE"`).Replace(cart))

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field, says        string
	}{
		{"duplicate integration code", "POST", "/aam/v1/segments", map[string]any{"name": "Dup", "integrationCode": "cart-1", "dataSourceId": 777}, 409, "integrationCode", "cart-1"},
		{"duplicate code on update", "PUT", fmt.Sprintf("/aam/v1/segments/%d", spring.SID), map[string]any{"name": "x", "integrationCode": "cart-1"}, 409, "integrationCode", "cart-1"},
		{"no name", "POST", "/aam/v1/segments", map[string]any{"dataSourceId": 777}, 400, "name", "enter a name"},
		{"unknown data source", "POST", "/aam/v1/segments", map[string]any{"name": "x", "dataSourceId": 999}, 400, "dataSourceId", "999 does not exist"},
		{"bad status", "POST", "/aam/v1/segments", map[string]any{"name": "x", "dataSourceId": 777, "status": "on"}, 400, "status", "ACTIVE or INACTIVE"},
		{"unknown field", "POST", "/aam/v1/segments", map[string]any{"name": "x", "dataSourceId": 777, "traitRule": "x"}, 400, "traitRule", `unknown field "traitRule"`},
		{"unknown field on update", "PUT", fmt.Sprintf("/aam/v1/segments/%d", sid), map[string]any{"name": "x", "colour": 1}, 400, "colour", `unknown field "colour"`},
		{"not an object", "POST", "/aam/v1/segments", `[]`, 400, "", "JSON object"},
		{"empty body", "POST", "/aam/v1/segments", ``, 400, "", "empty"},
		{"unknown sid", "GET", "/aam/v1/segments/987654", nil, 404, "", "segment 987654 does not exist"},
		{"sid that is not a number", "GET", "/aam/v1/segments/abc", nil, 404, "", "does not exist"},
		{"unknown integration code", "GET", "/aam/v1/segments/ic:nope", nil, 404, "", `integration code "nope" does not exist`},
		{"update of an unknown sid", "PUT", "/aam/v1/segments/987654", map[string]any{"name": "x"}, 404, "", "987654"},
		{"delete of an unknown sid", "DELETE", "/aam/v1/segments/987654", nil, 404, "", "987654"},
		{"bad sort", "GET", "/aam/v1/segments?sortBy=colour", nil, 400, "sortBy", "name, size, source, createTime, updateTime"},
		{"bad descending", "GET", "/aam/v1/segments?descending=yes", nil, 400, "descending", "true or false"},
		{"bad data source filter", "GET", "/aam/v1/segments?dataSourceId=x", nil, 400, "dataSourceId", "whole number"},
		{"bad page size", "GET", "/aam/v1/segments?pageSize=0", nil, 400, "pageSize", "at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.c.API(tc.method, tc.path, e.full, tc.body)
			var body map[string]string
			r.JSON(t, &body)
			if r.Status != tc.status || body["field"] != tc.field || !strings.Contains(body["error"], tc.says) {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
		})
	}

	r = e.call(t, http.MethodDelete, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 204)
	if r.Body != "" {
		t.Errorf("204 with a body: %q", r.Body)
	}
	e.call(t, http.MethodGet, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 404)
	e.call(t, http.MethodGet, "/aam/v1/segments/ic:cart-1", nil, 404)
}

func TestAAMMembers(t *testing.T) {
	e := startAAM(t)
	sid := e.seed(t)
	members := fmt.Sprintf("/aam/v1/segments/%d/members", sid)
	var ids []string
	for i := range 25 {
		ids = append(ids, librarytest.ECID(i))
	}
	body := strings.Join(ids[:20], "\n") + "\n123\n\nnot-an-ecid\r\n" + ids[20] + "\n"
	sameJSON(t, e.call(t, http.MethodPut, members, body, 200, "text/plain; charset=utf-8"), `{"accepted":21,"rejected":2,"errors":[
		{"line":21,"reason":"a visitor ID (ECID) has 38 digits, this one has 3: \"123\""},
		{"line":23,"reason":"a visitor ID (ECID) has only the digits 0 to 9, this one contains 'n': \"not-an-ecid\""}],"size":21}`)

	add, err := json.Marshal(append([]any{ids[21], 5, "", map[string]any{"a": []int{1}}, "123", nil, true, []string{"x"}}, ids[22], ids[20]))
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, e.call(t, http.MethodPost, members, string(add), 200, "application/json"), `{"accepted":3,"rejected":7,"errors":[
		{"line":2,"reason":"this is the number 5, not a string: send each identifier as a JSON string such as \"5\""},
		{"line":3,"reason":"an empty string is not an identifier"},
		{"line":4,"reason":"this is an object, not a string: send each identifier as a JSON string"},
		{"line":5,"reason":"a visitor ID (ECID) has 38 digits, this one has 3: \"123\""},
		{"line":6,"reason":"this is null, not a string: send each identifier as a JSON string"},
		{"line":7,"reason":"this is true, not a string: send each identifier as a JSON string"},
		{"line":8,"reason":"this is an array, not a string: send each identifier as a JSON string"}],"size":23}`)

	sameJSON(t, e.call(t, http.MethodDelete, members, ids[0]+"\n"+ids[1]+"\n", 200, "text/plain"), `{"accepted":2,"rejected":0,"errors":[],"size":21}`)
	sameJSON(t, e.call(t, http.MethodDelete, members, `["`+ids[2]+`"]`, 200, "application/json"), `{"accepted":1,"rejected":0,"errors":[],"size":20}`)

	// A gzip-encoded body counts against the limit as sent.
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	fmt.Fprintf(zw, "%s\n%s\n", ids[23], ids[24])
	zw.Close()
	req := e.c.Request(http.MethodPost, members, &zipped)
	req.Header.Set("Authorization", "Bearer "+e.full)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Content-Encoding", "gzip")
	if r := e.c.Do(req); r.Status != 200 || !strings.Contains(r.Body, `"accepted":2,"rejected":0,"errors":[],"size":22}`) {
		t.Fatalf("gzip = %d %s", r.Status, r.Body)
	}

	// Keyset pages of members, in identifier order.
	var got []string
	after := ""
	for page := 0; ; page++ {
		var p struct {
			Members []string `json:"members"`
			Next    string   `json:"next"`
		}
		e.call(t, http.MethodGet, members+"?limit=10&after="+after, nil, 200).JSON(t, &p)
		got = append(got, p.Members...)
		if p.Next == "" {
			if page != 2 || len(p.Members) != 2 {
				t.Fatalf("last page %d has %d members", page, len(p.Members))
			}
			break
		}
		if p.Next != p.Members[len(p.Members)-1] {
			t.Fatalf("next = %q after %v", p.Next, p.Members)
		}
		after = p.Next
	}
	if want := ids[3:]; !reflect.DeepEqual(got, want) {
		t.Fatalf("members = %v\nwant %v", got, want)
	}
	sameJSON(t, e.call(t, http.MethodGet, members+"?after="+ids[23], nil, 200), `{"members":["`+ids[24]+`"],"next":""}`)
	var seg struct{ Size int64 }
	e.call(t, http.MethodGet, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 200).JSON(t, &seg)
	if seg.Size != 22 {
		t.Fatalf("size = %d", seg.Size)
	}

	// Declared IDs must not contain ":".
	r := e.call(t, http.MethodPost, "/aam/v1/segments", map[string]any{"name": "Customers", "dataSourceId": 777}, 201)
	var customers struct{ SID int64 }
	r.JSON(t, &customers)
	sameJSON(t, e.call(t, http.MethodPut, fmt.Sprintf("/aam/v1/segments/%d/members", customers.SID), "C-1\nC:2\n\nC-3\n", 200, "text/plain"),
		`{"accepted":2,"rejected":1,"errors":[{"line":2,"reason":"a declared ID must not contain \":\": \"C:2\""}],"size":2}`)

	for _, tc := range []struct {
		name, method, path, body, contentType string
		status                                int
		field, says                           string
	}{
		{"unknown segment", "PUT", "/aam/v1/segments/987654/members", ids[0], "text/plain", 404, "", "segment 987654 does not exist"},
		{"members of an unknown segment", "GET", "/aam/v1/segments/987654/members", "", "", 404, "", "segment 987654 does not exist"},
		{"no content type", "POST", members, ids[0], "application/octet-stream", 400, "Content-Type", "text/plain"},
		{"truncated JSON", "PUT", members, `["` + ids[0] + `",`, "application/json", 400, "body", "not valid JSON"},
		{"JSON that is not an array", "PUT", members, `{"members":[]}`, "application/json", 400, "body", "JSON array of strings"},
		{"two JSON values", "POST", members, `[] []`, "application/json", 400, "body", "more than one value"},
		{"empty JSON body", "PUT", members, ``, "application/json", 400, "body", "empty"},
		{"a line too long", "PUT", members, strings.Repeat("1", 2<<20), "text/plain", 400, "body", "longer than 1 MiB"},
		{"bad limit", "GET", members + "?limit=0", "", "", 400, "limit", "at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" || tc.contentType != "" {
				body = tc.body
			}
			r := e.c.API(tc.method, tc.path, e.full, body, tc.contentType)
			var answer map[string]string
			r.JSON(t, &answer)
			if r.Status != tc.status || answer["field"] != tc.field || !strings.Contains(answer["error"], tc.says) {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
		})
	}
	// The refused bodies changed nothing.
	e.call(t, http.MethodGet, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 200).JSON(t, &seg)
	if seg.Size != 22 {
		t.Fatalf("size after refused bodies = %d", seg.Size)
	}
	r = e.call(t, http.MethodGet, members+"?limit=50000", nil, 200)
	if strings.Count(r.Body, `"0000`) != 22 || !strings.HasSuffix(r.Body, `"next":""}`+"\n") {
		t.Fatalf("all members = %s", r.Body)
	}
}

// bodyOf yields n bytes of lines that are not visitor IDs, counting what is
// read of it.
type bodyOf struct {
	n, read int64
}

func (b *bodyOf) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.n-b.read)]
	for i := range p {
		if (b.read+int64(i))%1000 == 999 {
			p[i] = '\n'
		} else {
			p[i] = 'x'
		}
	}
	b.read += int64(len(p))
	return len(p), nil
}

func TestAAMMemberBodyTooLarge(t *testing.T) {
	e := startAAM(t)
	sid := e.seed(t)
	path := fmt.Sprintf("/aam/v1/segments/%d/members", sid)
	const size = 50_000_000

	// A declared length over the limit is refused before the body is read:
	// the answer comes while the client has sent only the headers.
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
		path, u.Host, e.full, size)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]string
	if err := json.Unmarshal(raw, &answer); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge ||
		!strings.Contains(answer["error"], "larger than 32 MiB") || !strings.Contains(answer["error"], "several requests") ||
		!strings.Contains(answer["error"], "batch file") {
		t.Fatalf("declared 50 MB = %d %s (%v)", resp.StatusCode, raw, err)
	}

	// A chunked body is cut off at the limit while it streams.
	body := &bodyOf{n: size}
	req := e.c.Request(http.MethodPost, path, body)
	req.Header.Set("Authorization", "Bearer "+e.full)
	req.Header.Set("Content-Type", "text/plain")
	req.ContentLength = -1
	r := e.c.Do(req)
	if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, "larger than 32 MiB") {
		t.Fatalf("chunked 50 MB = %d %s", r.Status, r.Body)
	}
	if body.read >= size {
		t.Fatalf("the server read all %d bytes", body.read)
	}
	var seg struct{ Size int64 }
	e.call(t, http.MethodGet, fmt.Sprintf("/aam/v1/segments/%d", sid), nil, 200).JSON(t, &seg)
	if seg.Size != 0 {
		t.Fatalf("a refused body changed the segment: size %d", seg.Size)
	}
}
