package recipients

import (
	"strconv"
	"strings"

	"audiencebridge/models"
	"audiencebridge/views/components"
)

// KeysetPager is the pager of a table paged by cursor (the recipients
// and a list's members): First, Previous, Next and Last links carry the
// position, and the count is an estimate when counting would read a large
// table.
type KeysetPager struct {
	Info                                    string
	FirstHref, PrevHref, NextHref, LastHref string
	Target                                  string // the element HTMX refreshes
}

// PagerOf builds the pager of a keyset page. Its links keep the list's
// other parameters (search, sort) and replace the cursor.
func PagerOf[T any](p models.KeysetPage[T], u components.ListURL, target string) KeysetPager {
	base := components.ListURL{Path: u.Path, Query: u.Query}
	with := func(key, value string) string {
		q := components.ListURL{Path: base.Path, Query: map[string][]string{}}
		for k, v := range base.Query {
			if k != "after" && k != "before" && k != "last" && k != "page" {
				q.Query[k] = v
			}
		}
		return q.With(key, value)
	}
	pg := KeysetPager{Info: PagerInfo(p), Target: target}
	if p.Prev != "" {
		pg.FirstHref, pg.PrevHref = with("", ""), with("before", p.Prev)
	}
	if p.Next != "" {
		pg.NextHref, pg.LastHref = with("after", p.Next), with("last", "1")
	}
	return pg
}

// PagerInfo says where the page is: "1–25 of 60 · page 1 of 3" when the
// total is exact and the position known, "1–25 of about 1,000,000" on an
// estimate, "25 shown, more on the next pages" for a search of a large
// table.
func PagerInfo[T any](p models.KeysetPage[T]) string {
	n := int64(len(p.Items))
	switch {
	case n == 0:
		return "No results"
	case !p.TotalKnown && p.Offset >= 0:
		return strconv.FormatInt(p.Offset+1, 10) + "–" + strconv.FormatInt(p.Offset+n, 10) + " of many matches"
	case !p.TotalKnown:
		return strconv.FormatInt(n, 10) + " matches shown"
	case p.Estimated && p.Offset >= 0:
		return strconv.FormatInt(p.Offset+1, 10) + "–" + strconv.FormatInt(p.Offset+n, 10) + " of about " + About(p.Total)
	case p.Estimated:
		return strconv.FormatInt(n, 10) + " shown of about " + About(p.Total)
	case p.Offset < 0:
		return strconv.FormatInt(n, 10) + " shown of " + strconv.FormatInt(p.Total, 10)
	}
	size := int64(max(p.Limit, 1))
	pages := max(1, (p.Total+size-1)/size)
	return strconv.FormatInt(p.Offset+1, 10) + "–" + strconv.FormatInt(p.Offset+n, 10) + " of " + strconv.FormatInt(p.Total, 10) +
		" · page " + strconv.FormatInt(p.Offset/size+1, 10) + " of " + strconv.FormatInt(pages, 10)
}

// About rounds an estimate to two significant digits, with thousands
// separators: 1,003,412 is "1,000,000".
func About(n int64) string {
	for scale := int64(1); ; scale *= 10 {
		if n < 100*scale {
			n = (n + scale/2) / scale * scale
			break
		}
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
