package localrun

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/localrun/assembly"
	"wsapi/localrun/ddbscan"
)

// startDynamoDB starts the embedded DynamoDB API server (unless endpoint
// names an external one) and creates the template's tables in it, from the
// template's own definitions.
func (s *Server) startDynamoDB(ctx context.Context, asm *assembly.Assembly, endpoint string, resolver assembly.Resolver) error {
	if endpoint == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen for DynamoDB: %w", err)
		}
		// ddbscan: minidyn, plus parallel scans and a fast 100k-row load.
		srv := &http.Server{Handler: withCRC32(ddbscan.New()), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		s.stopDynamoDB = func() { _ = srv.Close() }
		endpoint = "http://" + ln.Addr().String()
	}
	s.DynamoDB = endpoint
	client := DynamoDBClient(endpoint)
	for id, table := range asm.Tables {
		name := functionName(asm.Stack.Name, shortName(id))
		resolver.Refs[id] = name
		resolver.Attrs[id+".Arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", localRegion, localAccount, name)
		if err := createTable(ctx, client, name, table); err != nil {
			return fmt.Errorf("table %s: %w", id, err)
		}
		s.TableNames[id] = name
	}
	return nil
}

// DynamoDBClient is an SDK client for the local run's DynamoDB API, with
// the local run's credentials.
func DynamoDBClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       localRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(localAccessKey, localSecret, ""),
	})
}

// createTable creates one table as the template defines it; an existing
// table (an external endpoint reused across runs) is kept.
func createTable(ctx context.Context, client *dynamodb.Client, name string, t assembly.Table) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
	}
	if t.BillingMode == "PROVISIONED" {
		in.BillingMode = types.BillingModeProvisioned
		in.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	in.KeySchema = keySchema(t.KeySchema)
	for _, gsi := range t.GlobalSecondaryIndexes {
		g := types.GlobalSecondaryIndex{
			IndexName:  aws.String(gsi.IndexName),
			KeySchema:  keySchema(gsi.KeySchema),
			Projection: &types.Projection{ProjectionType: types.ProjectionType(gsi.Projection.ProjectionType), NonKeyAttributes: gsi.Projection.NonKeyAttributes},
		}
		if in.ProvisionedThroughput != nil {
			g.ProvisionedThroughput = in.ProvisionedThroughput
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, g)
	}
	_, err := client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	return err
}

func keySchema(keys []assembly.KeyElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)})
	}
	return out
}

// withCRC32 sets X-Amz-Crc32 as DynamoDB does; the SDK checks it and warns
// on every response of a server that gets it wrong.
func withCRC32(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}
