package main

import (
	"fmt"
	"net"
)

// runPort prints a free TCP port on 127.0.0.1.
func runPort([]string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	_, err = fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return err
}
