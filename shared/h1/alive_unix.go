//go:build unix

package h1

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at an idle connection without blocking: a live one has
// nothing to read (EAGAIN). End of stream means the server closed it;
// bytes mean it sent something unasked (a TLS close_notify, a stray
// response): either way it cannot carry another request.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true // never wait: this is a probe
	})
	return err == nil && live
}
