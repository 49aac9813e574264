package main

import "testing"

// The CLI, not package hub, reads the hub's environment variables.
func TestHubEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name, flag, endpointEnv, token, oldToken string
		wantEndpoint, wantToken                  string
	}{
		{name: "nothing set"},
		{name: "environment", endpointEnv: "https://mirror.example", token: "hf_a", wantEndpoint: "https://mirror.example", wantToken: "hf_a"},
		{name: "flag wins", flag: "https://flag.example", endpointEnv: "https://mirror.example", wantEndpoint: "https://flag.example"},
		{name: "old token variable", oldToken: "hf_old", wantToken: "hf_old"},
		{name: "HF_TOKEN first", token: "hf_new", oldToken: "hf_old", wantToken: "hf_new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HF_ENDPOINT", tc.endpointEnv)
			t.Setenv("HF_TOKEN", tc.token)
			t.Setenv("HUGGING_FACE_HUB_TOKEN", tc.oldToken)
			if got := hubEndpoint(tc.flag); got != tc.wantEndpoint {
				t.Errorf("endpoint %q, want %q", got, tc.wantEndpoint)
			}
			if got := hubToken(); got != tc.wantToken {
				t.Errorf("token %q, want %q", got, tc.wantToken)
			}
		})
	}
}
