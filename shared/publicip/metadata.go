package publicip

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
)

// MetadataEnv is the environment variable ECS sets to the base URI of the
// task metadata endpoint version 4.
const MetadataEnv = "ECS_CONTAINER_METADATA_URI_V4"

// maxMetadataBytes bounds the task metadata document read.
const maxMetadataBytes = 1 << 20

// taskMetadata is the part of GET ${ECS_CONTAINER_METADATA_URI_V4}/task
// that holds the task's addresses.
type taskMetadata struct {
	Containers []struct {
		Networks []struct {
			IPv4Addresses []string
		}
	}
}

// TaskIPv4 returns the IPv4 addresses of the task's network interfaces,
// in the order the ECS task metadata endpoint v4 at uri lists them
// (Containers[].Networks[].IPv4Addresses of GET ${uri}/task), without
// duplicates. On Fargate (awsvpc) they are the ENI's private addresses:
// the public IP is mapped outside the task and is not in the metadata.
// client is http.DefaultClient when nil; ctx bounds the call.
func TaskIPv4(ctx context.Context, client *http.Client, uri string) ([]netip.Addr, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(uri, "/")+"/task", nil)
	if err != nil {
		return nil, fmt.Errorf("publicip: task metadata: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("publicip: task metadata: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxMetadataBytes))
		return nil, fmt.Errorf("%w: GET /task answered %s", ErrMetadata, res.Status)
	}
	var md taskMetadata
	if err := json.NewDecoder(io.LimitReader(res.Body, maxMetadataBytes)).Decode(&md); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, c := range md.Containers {
		for _, n := range c.Networks {
			for _, s := range n.IPv4Addresses {
				a, err := netip.ParseAddr(s)
				if err != nil || !a.Unmap().Is4() || a.IsUnspecified() || seen[a.Unmap()] {
					continue
				}
				a = a.Unmap()
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, ErrMetadata
	}
	return out, nil
}
