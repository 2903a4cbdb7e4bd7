package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 delivers objects to a bucket through aws-sdk-go-v2.
type S3 struct {
	client   *s3.Client
	bucket   string
	endpoint string
}

// NewS3 returns a destination for bucket, with the SDK's default
// credential chain; an S3Endpoint (s3rver, MinIO) is addressed path-style
// and, when no credentials are found, with dummy ones (local servers check
// none).
func NewS3(ctx context.Context, bucket string, o DestinationOptions) (*S3, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.S3Endpoint == "" {
			return nil, errors.New("no AWS region: pass --region or set AWS_REGION")
		}
		cfg.Region = "us-east-1"
	}
	if o.S3Endpoint != "" {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cfg.Credentials.Retrieve(cctx)
		cancel()
		if err != nil {
			cfg.Credentials = credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", "")
		}
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.S3Endpoint != "" {
			so.BaseEndpoint = aws.String(o.S3Endpoint)
			so.UsePathStyle = true
		}
		// Local servers return no checksums; only ask for them when required.
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client, bucket: bucket, endpoint: o.S3Endpoint}, nil
}

func (d *S3) String() string {
	if d.endpoint != "" {
		return "s3://" + d.bucket + " @ " + d.endpoint
	}
	return "s3://" + d.bucket
}

func (d *S3) Close() error { return nil }

// Deliver puts the object; a repeat replaces it (same key).
func (d *S3) Deliver(ctx context.Context, b Batch) (Result, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err := d.client.PutObject(cctx, &s3.PutObjectInput{
		Bucket:        aws.String(d.bucket),
		Key:           aws.String(b.Key),
		Body:          bytes.NewReader(b.Body),
		ContentLength: aws.Int64(int64(len(b.Body))),
	})
	if err != nil {
		return Result{}, fmt.Errorf("put s3://%s/%s: %w", d.bucket, b.Key, err)
	}
	return Result{Rows: 1}, nil
}
