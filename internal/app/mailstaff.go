package app

import (
	"context"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/mail"
	"github.com/kpolicy/aggregator/internal/store"
)

// What the staff commands do with the mailing lists ("aggregator mail
// export", "aggregator mail remove"), on a store they opened or, through
// the admin API, on the running server's.

// ListRow is one subscriber as "aggregator mail export" prints it. The
// JSON names are the admin API's.
type ListRow struct {
	Address   string    `json:"address"`
	State     string    `json:"state"`
	Digest    string    `json:"digest,omitempty"`
	Created   time.Time `json:"created"`
	Confirmed time.Time `json:"confirmed,omitzero"`
	LastSent  time.Time `json:"last_sent,omitzero"`
	Sends     int       `json:"sends"`
	Bounces   int       `json:"bounces"`
}

// ExportList returns every subscriber of channel, in address order, read
// a page at a time.
func ExportList(ctx context.Context, st store.Lists, channel string) ([]ListRow, error) {
	if channel == "" {
		return nil, feed.Errorf(feed.EINVALID, "name the channel whose list to export")
	}
	out := []ListRow{}
	for after := ""; ; {
		page, err := st.Subscribers(ctx, channel, after, mailPage)
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			out = append(out, ListRow{Address: s.Address, State: s.State, Digest: s.Digest, Created: s.Created,
				Confirmed: s.Confirmed, LastSent: s.LastSent, Sends: s.Sends, Bounces: s.Bounces})
		}
		if len(page) < mailPage {
			return out, nil
		}
		after = page[len(page)-1].Address
	}
}

// EraseAddress removes address from every list, its send log with it,
// and returns the channels it was on. The address is taken as
// mail.ParseAddress writes it when it parses (the domain lower-cased),
// else as given.
func EraseAddress(ctx context.Context, st store.Lists, address string) ([]string, error) {
	address = strings.TrimSpace(address)
	if a, err := mail.ParseAddress(address); err == nil {
		address = a
	}
	if address == "" {
		return nil, feed.Errorf(feed.EINVALID, "name the address to remove")
	}
	chans, err := st.EraseAddress(ctx, address)
	if chans == nil {
		chans = []string{}
	}
	return chans, err
}

func (x adminAPI) ExportList(ctx context.Context, channel string) (any, error) {
	return ExportList(ctx, x.a.st, channel)
}

func (x adminAPI) EraseAddress(ctx context.Context, address string) (any, error) {
	return EraseAddress(ctx, x.a.st, address)
}
