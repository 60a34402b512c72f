// The sender the usual way: for each job, query the user's connections and
// post to each; a 410 deletes that connection; failures are retried by SQS.
import { ApiGatewayManagementApiClient, PostToConnectionCommand, GoneException } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const mgmt = new ApiGatewayManagementApiClient({ endpoint: process.env.WS_ENDPOINT });
const TableName = process.env.TABLE_NAME;

export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      const job = JSON.parse(record.body);
      const { Items = [] } = await ddb.send(new QueryCommand({
        TableName, KeyConditionExpression: "PK = :pk AND begins_with(SK, :sk)",
        ExpressionAttributeValues: { ":pk": `USER#${job.userId}`, ":sk": "CONN#" },
      }));
      const data = JSON.stringify({ event: "notification:new", data: job.notification });
      await Promise.all(Items.map(async (c) => {
        try {
          await mgmt.send(new PostToConnectionCommand({ ConnectionId: c.connectionId, Data: data }));
        } catch (err) {
          if (err instanceof GoneException) await ddb.send(new DeleteCommand({ TableName, Key: { PK: c.PK, SK: c.SK } }));
          else throw err;
        }
      }));
    } catch {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
