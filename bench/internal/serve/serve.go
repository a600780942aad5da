// Package serve runs the bench kit's helper servers (the origin, the plain
// Go anchor) the way the kit drives them: serve on every listener until
// SIGINT or SIGTERM, then shut down within a bounded time.
package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds how long a stopping server waits for requests in
// flight.
const shutdownTimeout = 5 * time.Second

// UntilSignal serves srv on every listener, calls ready once they are all
// accepting (the kit waits for the line it prints), and returns when a
// signal arrives (nil, after a graceful shutdown) or a listener fails (its
// error).
func UntilSignal(srv *http.Server, lns []net.Listener, ready func()) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	ready()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
