package console

import (
	"fmt"

	"github.com/rolehop/rolehop/awsarn"
)

// FederationEndpoint returns the federation endpoint of a partition.
func FederationEndpoint(partitionID string) (string, error) {
	p, ok := awsarn.LookupPartition(partitionID)
	if !ok {
		return "", fmt.Errorf("%w %q; use aws, aws-cn or aws-us-gov", ErrUnknownPartition, partitionID)
	}
	return p.FederationURL(), nil
}

// partitionFor returns the partition id names, or the region's when id is
// "".
func partitionFor(id, region string) (awsarn.Partition, error) {
	if id == "" {
		return awsarn.PartitionOf(region), nil
	}
	p, ok := awsarn.LookupPartition(id)
	if !ok {
		return awsarn.Partition{}, fmt.Errorf("%w %q; use aws, aws-cn or aws-us-gov", ErrUnknownPartition, id)
	}
	return p, nil
}
