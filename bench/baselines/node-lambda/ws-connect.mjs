// $connect the usual way: verify the JWT, store the connection (two items).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import jwt from "jsonwebtoken";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TableName = process.env.TABLE_NAME;

export const handler = async (event) => {
  const token = event.queryStringParameters?.token;
  let claims;
  try {
    claims = jwt.verify(token, process.env.JWT_SECRET, { algorithms: ["HS256"] });
  } catch {
    return { statusCode: 401, body: JSON.stringify({ error: { code: "unauthorized" } }) };
  }
  const connectionId = event.requestContext.connectionId;
  const ttl = Math.floor(Date.now() / 1000) + 130 * 60;
  await ddb.send(new TransactWriteCommand({
    TransactItems: [
      { Put: { TableName, Item: { PK: `USER#${claims.sub}`, SK: `CONN#${connectionId}`, connectionId, userId: claims.sub, connectedAt: new Date().toISOString(), expiresAt: ttl, ttl } } },
      { Put: { TableName, Item: { PK: `CONN#${connectionId}`, SK: "META", userId: claims.sub, ttl } } },
    ],
  }));
  return { statusCode: 200 };
};
