package models

// Paging limits shared by every list in the console and the APIs.
const (
	DefaultPageSize = 25
	MaxPageSize     = 200
)

// PageRequest asks for one page of a list; Page counts from 0 as in the API.
type PageRequest struct {
	Page     int
	PageSize int
}

// Normalize clamps the request to valid bounds.
func (p PageRequest) Normalize() PageRequest {
	if p.Page < 0 {
		p.Page = 0
	}
	if p.PageSize <= 0 {
		p.PageSize = DefaultPageSize
	}
	if p.PageSize > MaxPageSize {
		p.PageSize = MaxPageSize
	}
	return p
}

// Offset is the number of rows before the page.
func (p PageRequest) Offset() int { return p.Page * p.PageSize }

// Page is one page of a list with the total it was cut from.
type Page[T any] struct {
	Total    int64
	Page     int
	PageSize int
	Items    []T
}

// NewPage wraps items found for a request.
func NewPage[T any](req PageRequest, total int64, items []T) Page[T] {
	return Page[T]{Total: total, Page: req.Page, PageSize: req.PageSize, Items: items}
}

// From is the 1-based position of the first item, 0 when empty.
func (p Page[T]) From() int64 {
	if len(p.Items) == 0 {
		return 0
	}
	return int64(p.Page*p.PageSize) + 1
}

// To is the 1-based position of the last item.
func (p Page[T]) To() int64 { return int64(p.Page*p.PageSize + len(p.Items)) }

// HasPrev reports whether an earlier page exists.
func (p Page[T]) HasPrev() bool { return p.Page > 0 }

// HasNext reports whether a later page exists.
func (p Page[T]) HasNext() bool { return p.To() < p.Total }

// PageCount is the number of pages, at least 1.
func (p Page[T]) PageCount() int {
	if p.Total == 0 || p.PageSize == 0 {
		return 1
	}
	return int((p.Total + int64(p.PageSize) - 1) / int64(p.PageSize))
}
