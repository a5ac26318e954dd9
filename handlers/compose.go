package handlers

import (
	"context"
	"io"

	"github.com/a-h/templ"
)

// joinComponents renders several components one after the other, e.g. a row
// and the out-of-band toast that reports the change.
func joinComponents(parts ...templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		for _, p := range parts {
			if err := p.Render(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
}
