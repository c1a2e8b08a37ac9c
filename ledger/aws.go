package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/transparency-dev/tessera"
	taws "github.com/transparency-dev/tessera/storage/aws"

	"github.com/go-sql-driver/mysql"
)

// awsConfig builds Tessera's AWS driver configuration. Without an endpoint
// it is plain AWS (the SDK's default configuration: region, credentials,
// roles). With one, the same SDK configuration is pointed at an
// S3-compatible service with path-style requests, which is how Tessera
// accepts non-AWS services.
func awsConfig(ctx context.Context, s Storage, dsn string) (taws.Config, *s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	region := s.Region
	if region == "" && s.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	sdk, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return taws.Config{}, nil, fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	s3opts := func(o *s3.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
			o.UsePathStyle = true
		}
	}
	cfg := taws.Config{Bucket: s.Bucket, BucketPrefix: s.Prefix, DSN: dsn, MaxOpenConns: tesseraMaxConns, MaxIdleConns: tesseraMaxConns}
	if s.Endpoint != "" || s.Region != "" {
		cfg.SDKConfig, cfg.S3Options = &sdk, s3opts
	}
	return cfg, s3.NewFromConfig(sdk, s3opts), nil
}

// readCommittedDSN returns the DSN with the session variable that makes
// its connections' transactions READ COMMITTED (the variable's name is
// transaction_isolation on MySQL 8 and MariaDB 11.1+, tx_isolation on
// older MariaDB: the server is asked which it knows).
//
// Why, for Tessera's own connections: at the default REPEATABLE READ, its
// integrator's read of the sequenced batches (SELECT … FROM Seq WHERE
// seq >= ? … FOR UPDATE) takes next-key locks up to the end of the table,
// so every INSERT of a new batch (assignEntries) waits until the
// integration's transaction, which spans the tile and bundle writes to
// the bucket, commits: sequencing stops during every integration, on
// every frontend. At READ COMMITTED only the rows read are locked. The
// driver stays correct: batches are still numbered under SeqCoord's row
// lock and integrated under IntCoord's, and each batch commits before the
// next is numbered, so an integration reads a contiguous prefix (it checks
// that itself).
func readCommittedDSN(ctx context.Context, dsn string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	name := "transaction_isolation"
	var v string
	if err := db.QueryRowContext(ctx, `SELECT @@transaction_isolation`).Scan(&v); err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // unknown system variable
			return "", fmt.Errorf("reading the database's transaction isolation: %w", err)
		}
		name = "tx_isolation"
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params[name] = "'READ-COMMITTED'"
	return cfg.FormatDSN(), nil
}

// newAWSDriver opens Tessera's AWS driver and a reader of the bucket's
// objects for the read API.
func newAWSDriver(ctx context.Context, s Storage, dsn string) (tessera.Driver, func(context.Context, string) ([]byte, error), error) {
	dsn, err := readCommittedDSN(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	cfg, client, err := awsConfig(ctx, s, dsn)
	if err != nil {
		return nil, nil, err
	}
	d, err := taws.New(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the Tessera AWS driver: %w", err)
	}
	return d, s3Reader(client, s.Bucket, s.Prefix), nil
}

// TesseraDriver opens the bare Tessera driver of these storage settings
// (the AWS driver; POSIX needs only a path). For measuring Tessera alone.
func TesseraDriver(ctx context.Context, s Storage) (tessera.Driver, error) {
	if s.Driver != DriverAWS {
		return nil, fmt.Errorf("TesseraDriver: %q storage: use posix.New", s.Driver)
	}
	dsn, err := s.resolvedDSN()
	if err != nil {
		return nil, err
	}
	d, _, err := newAWSDriver(ctx, s, dsn)
	return d, err
}

// s3Reader reads one log resource (checkpoint, tile, entry bundle) by its
// tlog-tiles path, exactly: no fallback from a partial to a full tile.
func s3Reader(c *s3.Client, bucket, prefix string) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, name string) ([]byte, error) {
		key := name
		if prefix != "" {
			key = path.Join(prefix, name)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			var nsk *types.NoSuchKey
			if errors.As(err, &nsk) {
				return nil, fs.ErrNotExist
			}
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
}
