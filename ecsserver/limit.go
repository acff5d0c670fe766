package ecsserver

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// limitListener bounds the open connections. When all slots are taken,
// Accept closes the connection that has waited longest without a request
// in progress (http.StateNew or http.StateIdle, as reported to track) to
// make room; when every connection is busy, Accept waits for one to close
// (new connections wait in the kernel's queue meanwhile).
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once

	mu    sync.Mutex
	conns map[*limitConn]struct{}
}

type limitConn struct {
	net.Conn
	l     *limitListener
	once  sync.Once
	state http.ConnState // guarded by l.mu
	since time.Time      // guarded by l.mu
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max), done: make(chan struct{}), conns: map[*limitConn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		default:
			if !l.evict() {
				select {
				case l.slots <- struct{}{}:
				case <-l.done:
					return nil, net.ErrClosed
				}
			} else {
				continue
			}
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		lc := &limitConn{Conn: c, l: l, state: http.StateNew, since: time.Now()}
		l.mu.Lock()
		l.conns[lc] = struct{}{}
		l.mu.Unlock()
		return lc, nil
	}
}

// evict closes the connection that has waited longest with no request in
// progress; it reports whether there was one.
func (l *limitListener) evict() bool {
	l.mu.Lock()
	var oldest *limitConn
	for c := range l.conns {
		if (c.state == http.StateNew || c.state == http.StateIdle) && (oldest == nil || c.since.Before(oldest.since)) {
			oldest = c
		}
	}
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	_ = oldest.Close()
	return true
}

// track is the http.Server's ConnState hook.
func (l *limitListener) track(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	if _, open := l.conns[lc]; open {
		lc.state, lc.since = st, time.Now()
	}
	l.mu.Unlock()
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// open is the number of open connections.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
