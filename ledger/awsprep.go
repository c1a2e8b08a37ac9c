package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/go-sql-driver/mysql"
)

// MissingError says a piece of the AWS-driver storage (the database, the
// bucket) does not exist and acdledger may not, or was told not to, create
// it: What names it, Create says how an operator creates it. It is a usage
// error (exit 2): nothing was written.
type MissingError struct {
	What   string // e.g. `database "acdledger" on 127.0.0.1:3306`
	Create string // e.g. "CREATE DATABASE `acdledger`" (and the grant it needs)
	Err    error  // what the service said
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("aws storage: the %s does not exist and was not created (%v): create it first: %s (docs/deploy.md, \"Before init\")", e.What, e.Err, e.Create)
}

func (e *MissingError) Unwrap() error { return e.Err }

// PrepareAWS makes sure the database and the bucket of these settings
// exist: it creates each that is missing when create is set and the
// credentials allow it, and otherwise returns a *MissingError naming it.
// It returns what it created. The tables are not made here: every frontend
// makes them on open (CREATE TABLE IF NOT EXISTS), Tessera's and
// acdledger's alike, so a frontend of a newer version can add its own.
func PrepareAWS(ctx context.Context, st Storage, create bool) (created []string, err error) {
	if st.Driver != DriverAWS {
		return nil, nil
	}
	dsn, err := st.resolvedDSN()
	if err != nil {
		return nil, err
	}
	made, err := prepareDatabase(ctx, dsn, create)
	if err != nil {
		return nil, err
	}
	if made != "" {
		created = append(created, made)
	}
	made, err = prepareBucket(ctx, st, dsn, create)
	if err != nil {
		return created, err
	}
	if made != "" {
		created = append(created, made)
	}
	return created, nil
}

// checkAWS is PrepareAWS without creating: what serve runs first, so a
// missing piece is named rather than surfacing as a driver error.
func checkAWS(ctx context.Context, st Storage, dsn string) error {
	if _, err := prepareDatabase(ctx, dsn, false); err != nil {
		return err
	}
	_, err := prepareBucket(ctx, st, dsn, false)
	return err
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func prepareDatabase(ctx context.Context, dsn string, create bool) (string, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("aws storage: MySQL DSN: %w", err)
	}
	if c.DBName == "" {
		return "", errors.New("aws storage: the MySQL DSN names no database (…/DBNAME at its end)")
	}
	name := c.DBName
	where := fmt.Sprintf("database %q on %s", name, c.Addr)
	how := fmt.Sprintf("CREATE DATABASE %s; GRANT ALL ON %s.* TO '%s'@'%%'", quoteIdent(name), quoteIdent(name), c.User)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	err = db.PingContext(ctx)
	if err == nil {
		return "", nil
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1049 { // 1049: unknown database
		if errors.As(err, &me) && me.Number == 1044 { // access denied to the database
			return "", &MissingError{What: where + " (or access to it)", Create: how, Err: err}
		}
		return "", fmt.Errorf("aws storage: connecting to the %s: %w", where, err)
	}
	if !create {
		return "", &MissingError{What: where, Create: how, Err: err}
	}
	// Connect without a database to create it.
	c.DBName = ""
	root, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return "", err
	}
	defer root.Close()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(name)); err != nil {
		return "", &MissingError{What: where, Create: how, Err: err}
	}
	return where, nil
}

func prepareBucket(ctx context.Context, st Storage, dsn string, create bool) (string, error) {
	_, client, err := awsConfig(ctx, st, dsn)
	if err != nil {
		return "", err
	}
	where := fmt.Sprintf("bucket %q", st.Bucket)
	if st.Endpoint != "" {
		where += " on " + st.Endpoint
	}
	how := fmt.Sprintf("aws s3 mb s3://%s", st.Bucket)
	if st.Endpoint != "" {
		how = fmt.Sprintf("aws --endpoint-url %s s3 mb s3://%s", st.Endpoint, st.Bucket)
	}
	_, err = client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(st.Bucket)})
	if err == nil {
		return "", nil
	}
	if !notFound(err) {
		return "", fmt.Errorf("aws storage: checking the %s: %w", where, err)
	}
	if !create {
		return "", &MissingError{What: where, Create: how, Err: err}
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(st.Bucket)}); err != nil {
		return "", &MissingError{What: where, Create: how, Err: err}
	}
	return where, nil
}

// notFound says S3 answered that the bucket does not exist (HeadBucket has
// no body, so the error is known by its code or status).
func notFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchBucket":
			return true
		}
	}
	return false
}
