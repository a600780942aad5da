package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// admin guards a staff-only handler: with no token configured the route
// does not exist (404); a request without "Authorization: Bearer TOKEN"
// matching it (compared in constant time) gets 401.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.AdminToken == "" {
			http.NotFound(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aggregator admin"`)
			http.Error(w, "a valid admin token is required", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// handleBackup streams a consistent copy of the database, taken first to a
// temporary file (see bolt.DB.Backup) so that a slow download holds no
// transaction and polling goes on.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	if s.Backup == nil {
		http.NotFound(w, r)
		return
	}
	// A large file takes longer than the server's write timeout allows a
	// page; the backup sets its own.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="aggregator-%s.db"`, time.Now().UTC().Format("20060102T150405Z")))
	if r.Method == http.MethodHead {
		return
	}
	if n, err := s.Backup.Backup(r.Context(), w); err != nil {
		// The status is sent: all that is left is to cut the body short
		// and say why in the log.
		s.log.Error("admin backup", "bytes", n, "err", err)
		panic(http.ErrAbortHandler)
	}
}
