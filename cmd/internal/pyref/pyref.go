// Package pyref runs a Python reference implementation as a server beside a Go benchmark, so the
// two sides can take turns in one run: timings on a shared machine drift by tens of percent over
// a minute, and alternating rounds exposes both sides to the same drift. The script reads one
// command per line on standard input and answers each with one JSON value on standard output.
package pyref

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// Server is a running reference script.
type Server struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
}

// Start runs python -c script args... with the environment of the benchmark plus offline HF
// settings; its standard error goes to ours.
func Start(python, script string, args ...string) (*Server, error) {
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("reference script (%s): %w", python, err)
	}
	return &Server{cmd: cmd, in: in, out: json.NewDecoder(out)}, nil
}

// Read decodes the next JSON value the script prints (e.g. what it reports at start-up).
func (s *Server) Read(v any) error {
	if err := s.out.Decode(v); err != nil {
		return fmt.Errorf("reference script output: %w", err)
	}
	return nil
}

// Call sends one command line and decodes the answer into v.
func (s *Server) Call(command string, v any) error {
	if _, err := fmt.Fprintln(s.in, command); err != nil {
		return fmt.Errorf("reference script: %w", err)
	}
	return s.Read(v)
}

// Close asks the script to quit ("quit") and waits for it.
func (s *Server) Close() error {
	fmt.Fprintln(s.in, "quit")
	s.in.Close()
	return s.cmd.Wait()
}
