// Demo OpenMetadata content served by src/demo/platform.ts.
//
// GENERATED CONTENT — the JSON files under test/fixtures/openmetadata/ are identical copies of the objects below
// (test/fixtures/fixtures.test.ts checks they stay equal). Field names follow the OpenMetadata spec
// (openmetadata-spec entity/data/*.json, type/entityLineage.json, type/entityUsage.json, type/entityHistory.json,
// api/lineage/searchLineageResult.json). Every data-bearing value holds a canary ("CANARY-OM-...") or a
// distinctive number so tests can prove it never leaves the gateway.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const DEMO_TABLE_ID = 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9';
export const DEMO_TABLE_FQN = 'demo_mysql.shop.sales.customers';
export const DEMO_TABLE_VERSION = '0.2';
export const DEMO_ORDERS_TABLE_ID = '539ba663-a812-49f4-9cb7-18d38134f387';
export const DEMO_TOPIC_ID = '39b8e3a2-eac1-4440-b85e-989fa77c1b83';
export const DEMO_TOPIC_FQN = 'demo_kafka.customer_events';
export const DEMO_DATAMODEL_ID = '21440bf6-dd92-4c2f-8fb0-55aa1cc618ff';
export const DEMO_DATAMODEL_FQN = 'demo_superset.model.customer_revenue';
export const DEMO_PIPELINE_ID = 'f38e0a25-903b-4d3f-b756-36a57e983a50';
export const DEMO_PIPELINE_FQN = 'demo_airflow.load_customers';
export const DEMO_TEST_CASE_ID = '4b0e6f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b';

/** GET /api/v1/tables/{id} (and /tables/name/{fqn}) — a table with every data-bearing field filled in. */
export const omTable: JsonObject = {
  "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
  "name": "customers",
  "displayName": "Customers",
  "fullyQualifiedName": "demo_mysql.shop.sales.customers",
  "description": "One row per registered customer of the web shop.",
  "version": 0.3,
  "updatedAt": 1733040000000,
  "updatedBy": "admin",
  "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
  "tableType": "Regular",
  "columns": [
    {
      "name": "customer_id",
      "dataType": "BIGINT",
      "dataTypeDisplay": "bigint",
      "description": "Surrogate key of the customer.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.customer_id",
      "tags": [],
      "constraint": "PRIMARY_KEY",
      "ordinalPosition": 1,
      "profile": {
        "name": "customer_id",
        "timestamp": 1733036400000,
        "valuesCount": 7340021,
        "nullCount": 0,
        "distinctCount": 7339987,
        "uniqueCount": 7339001,
        "min": 111222333,
        "max": 999888777,
        "mean": 987654.321,
        "median": 876543.219,
        "sum": 654321.987,
        "stddev": 765432.198,
        "variance": 219876.543,
        "firstQuartile": 543219.876,
        "thirdQuartile": 432198.765,
        "interQuartileRange": 321987.654,
        "histogram": {
          "boundaries": [
            "CANARY-OM-HIST-BOUNDARY-01",
            "CANARY-OM-HIST-BOUNDARY-02",
            "CANARY-OM-HIST-BOUNDARY-03"
          ],
          "frequencies": [
            1357911,
            2468101
          ]
        },
        "cardinalityDistribution": {
          "categories": [
            "CANARY-OM-CARDINALITY-CAT-01",
            "CANARY-OM-CARDINALITY-CAT-02"
          ],
          "counts": [
            3141592,
            2718281
          ],
          "percentages": [
            53.6,
            46.4
          ]
        }
      }
    },
    {
      "name": "email",
      "dataType": "VARCHAR",
      "dataLength": 255,
      "dataTypeDisplay": "varchar(255)",
      "description": "Contact e-mail address.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.email",
      "tags": [
        {
          "tagFQN": "PII.Sensitive",
          "name": "Sensitive",
          "description": "Personal data.",
          "source": "Classification",
          "labelType": "Manual",
          "state": "Confirmed"
        }
      ],
      "ordinalPosition": 2,
      "profile": {
        "name": "email",
        "timestamp": 1733036400000,
        "valuesCount": 7340021,
        "nullCount": 1618033,
        "distinctCount": 7012345,
        "minLength": 6,
        "maxLength": 254,
        "min": "CANARY-OM-PROFILE-MIN-01",
        "max": "CANARY-OM-PROFILE-MAX-01",
        "histogram": {
          "boundaries": [
            "CANARY-OM-HIST-BOUNDARY-04",
            "CANARY-OM-HIST-BOUNDARY-05"
          ],
          "frequencies": [
            1123581,
            3211345
          ]
        },
        "customMetrics": [
          {
            "name": "gmail_share",
            "value": 4242.4242
          }
        ]
      },
      "customMetrics": [
        {
          "id": "3026ed87-9815-47a6-a58f-014d63e6e5a0",
          "name": "gmail_share",
          "description": "Share of customers with a gmail address.",
          "columnName": "email",
          "expression": "CANARY-OM-COLMETRIC-EXPR-01 SELECT AVG(CASE WHEN email LIKE '%@gmail.com' THEN 1 ELSE 0 END) FROM customers",
          "updatedAt": 1733036400000,
          "updatedBy": "admin"
        }
      ]
    },
    {
      "name": "address",
      "dataType": "STRUCT",
      "dataTypeDisplay": "struct<street:varchar(120),city:varchar(80),postcode:varchar(7)>",
      "description": "Postal address.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.address",
      "tags": [
        {
          "tagFQN": "PII.Sensitive",
          "name": "Sensitive",
          "description": "Personal data.",
          "source": "Classification",
          "labelType": "Manual",
          "state": "Confirmed"
        }
      ],
      "ordinalPosition": 3,
      "children": [
        {
          "name": "street",
          "dataType": "VARCHAR",
          "dataLength": 120,
          "dataTypeDisplay": "varchar(120)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.street",
          "tags": [],
          "ordinalPosition": 1
        },
        {
          "name": "city",
          "dataType": "VARCHAR",
          "dataLength": 80,
          "dataTypeDisplay": "varchar(80)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.city",
          "tags": [],
          "ordinalPosition": 2
        },
        {
          "name": "postcode",
          "dataType": "VARCHAR",
          "dataLength": 7,
          "dataTypeDisplay": "varchar(7)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.postcode",
          "tags": [],
          "ordinalPosition": 3
        }
      ]
    },
    {
      "name": "signup_date",
      "dataType": "DATE",
      "dataTypeDisplay": "date",
      "description": "Day the customer registered.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.signup_date",
      "tags": [],
      "ordinalPosition": 4,
      "profile": {
        "name": "signup_date",
        "timestamp": 1733036400000,
        "valuesCount": 7340021,
        "min": "CANARY-OM-PROFILE-MIN-02",
        "max": "CANARY-OM-PROFILE-MAX-02"
      }
    }
  ],
  "tableConstraints": [
    {
      "constraintType": "UNIQUE",
      "columns": [
        "email"
      ]
    }
  ],
  "owners": [
    {
      "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
      "type": "team",
      "name": "sales-data",
      "fullyQualifiedName": "sales-data",
      "displayName": "Sales Data Team",
      "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
      "deleted": false
    }
  ],
  "databaseSchema": {
    "id": "bfe7a4c9-6552-4a13-a432-1f8aff26c9ab",
    "type": "databaseSchema",
    "name": "sales",
    "fullyQualifiedName": "demo_mysql.shop.sales",
    "href": "http://openmetadata.internal:8585/api/v1/databaseSchemas/bfe7a4c9-6552-4a13-a432-1f8aff26c9ab",
    "deleted": false
  },
  "database": {
    "id": "8a880513-5c61-495e-a1df-516d1bcb90b9",
    "type": "database",
    "name": "shop",
    "fullyQualifiedName": "demo_mysql.shop",
    "href": "http://openmetadata.internal:8585/api/v1/databases/8a880513-5c61-495e-a1df-516d1bcb90b9",
    "deleted": false
  },
  "service": {
    "id": "f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
    "type": "databaseService",
    "name": "demo_mysql",
    "fullyQualifiedName": "demo_mysql",
    "href": "http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
    "deleted": false
  },
  "serviceType": "Mysql",
  "tags": [
    {
      "tagFQN": "Tier.Tier1",
      "name": "Tier1",
      "description": "Critical source of truth.",
      "source": "Classification",
      "labelType": "Manual",
      "state": "Confirmed"
    }
  ],
  "usageSummary": {
    "dailyStats": {
      "count": 42,
      "percentileRank": 87.5
    },
    "weeklyStats": {
      "count": 301,
      "percentileRank": 91.2
    },
    "monthlyStats": {
      "count": 1204,
      "percentileRank": 93
    },
    "date": "2024-12-01"
  },
  "followers": [],
  "joins": {
    "startDate": "2024-11-01",
    "dayCount": 30,
    "columnJoins": [
      {
        "columnName": "customer_id",
        "joinedWith": [
          {
            "fullyQualifiedName": "demo_mysql.shop.sales.orders.customer_id",
            "joinCount": 311
          }
        ]
      }
    ],
    "directTableJoins": []
  },
  "sampleData": {
    "columns": [
      "customer_id",
      "email",
      "address",
      "signup_date"
    ],
    "rows": [
      [
        "CANARY-OM-SAMPLEROW-01",
        "CANARY-OM-SAMPLEROW-02",
        "CANARY-OM-SAMPLEROW-03",
        "CANARY-OM-SAMPLEROW-04"
      ],
      [
        "CANARY-OM-SAMPLEROW-05",
        "CANARY-OM-SAMPLEROW-06",
        "CANARY-OM-SAMPLEROW-07",
        "CANARY-OM-SAMPLEROW-08"
      ]
    ]
  },
  "tableProfilerConfig": {
    "profileSample": 12.5,
    "profileSampleType": "PERCENTAGE",
    "sampleDataCount": 50,
    "profileQuery": "CANARY-OM-PROFILEQUERY-01 SELECT * FROM customers WHERE email LIKE '%@minbuza.example'",
    "excludeColumns": [
      "address"
    ],
    "partitioning": {
      "enablePartitioning": true,
      "partitionColumnName": "signup_date",
      "partitionIntervalType": "COLUMN-VALUE",
      "partitionValues": [
        "CANARY-OM-PARTITIONVALUE-01",
        "CANARY-OM-PARTITIONVALUE-02"
      ]
    }
  },
  "customMetrics": [
    {
      "id": "06664513-fbbb-4ee4-b9c6-80eadc133160",
      "name": "active_customers",
      "description": "Customers with an order in the last 90 days.",
      "expression": "CANARY-OM-TABLEMETRIC-EXPR-01 SELECT COUNT(*) FROM customers c JOIN orders o ON o.customer_id = c.customer_id",
      "updatedAt": 1733036400000,
      "updatedBy": "admin"
    }
  ],
  "profile": {
    "timestamp": 1733036400000,
    "profileSample": 12.5,
    "profileSampleType": "PERCENTAGE",
    "columnCount": 4,
    "rowCount": 7340021,
    "sizeInByte": 918273645,
    "createDateTime": "2021-03-04T05:06:07Z",
    "customMetrics": [
      {
        "name": "active_customers",
        "value": 4455667
      }
    ]
  },
  "dataModel": {
    "modelType": "DBT",
    "resourceType": "model",
    "description": "Customers model.",
    "path": "models/sales/customers.sql",
    "rawSql": "CANARY-OM-DBT-RAWSQL-01 select * from {{ ref('stg_customers') }} where email <> 'test@example.org'",
    "sql": "CANARY-OM-DBT-SQL-01 select * from shop.staging.stg_customers where email <> 'test@example.org'",
    "upstream": [
      "model.shop.stg_customers"
    ],
    "columns": [],
    "generatedAt": "2024-12-01T02:00:00Z"
  },
  "schemaDefinition": "CANARY-OM-SCHEMADEF-01 CREATE TABLE customers (customer_id BIGINT PRIMARY KEY, email VARCHAR(255) DEFAULT 'noreply@shop.example')",
  "viewDefinition": "CANARY-OM-VIEWDEF-01 SELECT customer_id, email FROM customers",
  "changeDescription": {
    "fieldsAdded": [
      {
        "name": "columns.email.tags",
        "newValue": "[{\"tagFQN\":\"PII.Sensitive\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}]"
      }
    ],
    "fieldsUpdated": [
      {
        "name": "schemaDefinition",
        "oldValue": "CANARY-OM-CHANGE-OLD-01 CREATE TABLE customers (customer_id BIGINT, email VARCHAR(255) DEFAULT 'old@shop.example')",
        "newValue": "CANARY-OM-CHANGE-NEW-01 CREATE TABLE customers (customer_id BIGINT PRIMARY KEY, email VARCHAR(255) DEFAULT 'noreply@shop.example')"
      }
    ],
    "fieldsDeleted": [],
    "previousVersion": 0.2
  },
  "deleted": false,
  "extension": {
    "dataSteward": "j.devries",
    "retentionClass": "B"
  }
};

/** GET /api/v1/tables — list envelope {data, paging}. */
export const omTablesList: JsonObject = {
  "data": [
    {
      "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
      "name": "customers",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers",
      "description": "One row per registered customer of the web shop.",
      "version": 0.3,
      "updatedAt": 1733040000000,
      "updatedBy": "admin",
      "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
      "tableType": "Regular",
      "columns": [
        {
          "name": "customer_id",
          "dataType": "BIGINT",
          "dataTypeDisplay": "bigint",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.customer_id",
          "tags": [],
          "ordinalPosition": 1,
          "profile": {
            "name": "customer_id",
            "timestamp": 1733036400000,
            "mean": 192837.465,
            "max": "CANARY-OM-LIST-PROFILE-MAX-01"
          }
        }
      ],
      "owners": [
        {
          "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
          "type": "team",
          "name": "sales-data",
          "fullyQualifiedName": "sales-data",
          "displayName": "Sales Data Team",
          "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
          "deleted": false
        }
      ],
      "tags": [
        {
          "tagFQN": "Tier.Tier1",
          "name": "Tier1",
          "description": "Critical source of truth.",
          "source": "Classification",
          "labelType": "Manual",
          "state": "Confirmed"
        }
      ],
      "sampleData": {
        "columns": [
          "customer_id"
        ],
        "rows": [
          [
            "CANARY-OM-LIST-SAMPLEROW-01"
          ],
          [
            "CANARY-OM-LIST-SAMPLEROW-02"
          ]
        ]
      },
      "deleted": false
    },
    {
      "id": "539ba663-a812-49f4-9cb7-18d38134f387",
      "name": "orders",
      "fullyQualifiedName": "demo_mysql.shop.sales.orders",
      "description": "Customer orders (view over the order service).",
      "version": 0.1,
      "updatedAt": 1733040000000,
      "updatedBy": "ingestion-bot",
      "href": "http://openmetadata.internal:8585/api/v1/tables/539ba663-a812-49f4-9cb7-18d38134f387",
      "tableType": "View",
      "columns": [
        {
          "name": "order_id",
          "dataType": "BIGINT",
          "dataTypeDisplay": "bigint",
          "fullyQualifiedName": "demo_mysql.shop.sales.orders.order_id",
          "tags": [],
          "ordinalPosition": 1
        },
        {
          "name": "customer_id",
          "dataType": "BIGINT",
          "dataTypeDisplay": "bigint",
          "fullyQualifiedName": "demo_mysql.shop.sales.orders.customer_id",
          "tags": [],
          "ordinalPosition": 2
        }
      ],
      "owners": [
        {
          "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
          "type": "team",
          "name": "sales-data",
          "fullyQualifiedName": "sales-data",
          "displayName": "Sales Data Team",
          "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
          "deleted": false
        }
      ],
      "tags": [],
      "schemaDefinition": "CANARY-OM-LIST-SCHEMADEF-01 CREATE VIEW orders AS SELECT * FROM order_service.orders WHERE country = 'NL'",
      "deleted": false
    }
  ],
  "paging": {
    "after": "ZGVtb19teXNxbC5zaG9wLnNhbGVzLm9yZGVycw==",
    "total": 2
  }
};

/** GET /api/v1/topics/{id} — includes sampleData.messages. */
export const omTopic: JsonObject = {
  "id": "39b8e3a2-eac1-4440-b85e-989fa77c1b83",
  "name": "customer_events",
  "fullyQualifiedName": "demo_kafka.customer_events",
  "description": "Customer life-cycle events emitted by the shop backend.",
  "version": 0.2,
  "updatedAt": 1733040000000,
  "updatedBy": "ingestion-bot",
  "href": "http://openmetadata.internal:8585/api/v1/topics/39b8e3a2-eac1-4440-b85e-989fa77c1b83",
  "service": {
    "id": "af8d73a6-903d-42a5-ad2c-0d723dba3197",
    "type": "messagingService",
    "name": "demo_kafka",
    "fullyQualifiedName": "demo_kafka",
    "href": "http://openmetadata.internal:8585/api/v1/services/messagingServices/af8d73a6-903d-42a5-ad2c-0d723dba3197",
    "deleted": false
  },
  "serviceType": "Kafka",
  "messageSchema": {
    "schemaText": "{\"type\":\"record\",\"name\":\"CustomerEvent\",\"namespace\":\"shop.events\",\"fields\":[{\"name\":\"customer_id\",\"type\":\"long\"},{\"name\":\"event_type\",\"type\":\"string\"},{\"name\":\"occurred_at\",\"type\":\"long\"}]}",
    "schemaType": "Avro",
    "schemaFields": [
      {
        "name": "CustomerEvent",
        "dataType": "RECORD",
        "fullyQualifiedName": "demo_kafka.customer_events.CustomerEvent",
        "tags": [],
        "children": [
          {
            "name": "customer_id",
            "dataType": "LONG",
            "fullyQualifiedName": "demo_kafka.customer_events.CustomerEvent.customer_id",
            "tags": []
          },
          {
            "name": "event_type",
            "dataType": "STRING",
            "fullyQualifiedName": "demo_kafka.customer_events.CustomerEvent.event_type",
            "tags": []
          },
          {
            "name": "occurred_at",
            "dataType": "LONG",
            "fullyQualifiedName": "demo_kafka.customer_events.CustomerEvent.occurred_at",
            "tags": []
          }
        ]
      }
    ]
  },
  "partitions": 12,
  "cleanupPolicies": [
    "delete"
  ],
  "retentionTime": 604800000,
  "replicationFactor": 3,
  "maximumMessageSize": 1048588,
  "minimumInSyncReplicas": 2,
  "retentionSize": -1,
  "topicConfig": {
    "max.message.bytes": 1048588,
    "retention.ms": 604800000
  },
  "sampleData": {
    "messages": [
      "{\"customer_id\":\"CANARY-OM-TOPICMSG-01\",\"event_type\":\"SIGNED_UP\",\"occurred_at\":1733040000000}",
      "{\"customer_id\":\"CANARY-OM-TOPICMSG-02\",\"event_type\":\"ADDRESS_CHANGED\",\"occurred_at\":1733040001000}"
    ]
  },
  "owners": [
    {
      "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
      "type": "team",
      "name": "sales-data",
      "fullyQualifiedName": "sales-data",
      "displayName": "Sales Data Team",
      "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
      "deleted": false
    }
  ],
  "followers": [],
  "tags": [
    {
      "tagFQN": "Tier.Tier1",
      "name": "Tier1",
      "description": "Critical source of truth.",
      "source": "Classification",
      "labelType": "Manual",
      "state": "Confirmed"
    }
  ],
  "deleted": false
};

/** GET /api/v1/dashboard/datamodels/{id} — includes the model SQL. */
export const omDashboardDataModel: JsonObject = {
  "id": "21440bf6-dd92-4c2f-8fb0-55aa1cc618ff",
  "name": "customer_revenue",
  "displayName": "Customer revenue",
  "fullyQualifiedName": "demo_superset.model.customer_revenue",
  "description": "Revenue per customer and month, used by the finance dashboard.",
  "version": 0.1,
  "updatedAt": 1733040000000,
  "updatedBy": "ingestion-bot",
  "href": "http://openmetadata.internal:8585/api/v1/dashboard/datamodels/21440bf6-dd92-4c2f-8fb0-55aa1cc618ff",
  "owners": [
    {
      "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
      "type": "team",
      "name": "sales-data",
      "fullyQualifiedName": "sales-data",
      "displayName": "Sales Data Team",
      "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
      "deleted": false
    }
  ],
  "tags": [],
  "followers": [],
  "service": {
    "id": "01d1eb3d-227f-40d4-818c-5c904c96b2b7",
    "type": "dashboardService",
    "name": "demo_superset",
    "fullyQualifiedName": "demo_superset",
    "href": "http://openmetadata.internal:8585/api/v1/services/dashboardServices/01d1eb3d-227f-40d4-818c-5c904c96b2b7",
    "deleted": false
  },
  "serviceType": "Superset",
  "dataModelType": "SupersetDataModel",
  "sql": "CANARY-OM-DATAMODEL-SQL-01 SELECT c.customer_id, SUM(o.total) FROM customers c JOIN orders o USING (customer_id) WHERE c.email NOT LIKE '%@minbuza.example' GROUP BY 1",
  "columns": [
    {
      "name": "customer_id",
      "dataType": "BIGINT",
      "dataTypeDisplay": "BIGINT",
      "description": "Customer.",
      "fullyQualifiedName": "demo_superset.model.customer_revenue.customer_id",
      "tags": [],
      "ordinalPosition": 1
    },
    {
      "name": "revenue",
      "dataType": "DECIMAL",
      "dataTypeDisplay": "DECIMAL(18,2)",
      "description": "Sum of order totals.",
      "fullyQualifiedName": "demo_superset.model.customer_revenue.revenue",
      "tags": [],
      "ordinalPosition": 2
    }
  ],
  "project": "finance",
  "deleted": false
};

/** GET /api/v1/pipelines/{id} — tasks carry taskSQL. */
export const omPipeline: JsonObject = {
  "id": "f38e0a25-903b-4d3f-b756-36a57e983a50",
  "name": "load_customers",
  "displayName": "Load customers",
  "fullyQualifiedName": "demo_airflow.load_customers",
  "description": "Nightly load of customers from staging.",
  "version": 0.4,
  "updatedAt": 1733040000000,
  "updatedBy": "ingestion-bot",
  "href": "http://openmetadata.internal:8585/api/v1/pipelines/f38e0a25-903b-4d3f-b756-36a57e983a50",
  "sourceUrl": "http://airflow.internal:8080/dags/load_customers/grid",
  "concurrency": 1,
  "pipelineLocation": "/opt/airflow/dags/load_customers.py",
  "startDate": "2024-01-01T00:00:00Z",
  "tasks": [
    {
      "name": "extract",
      "displayName": "Extract",
      "fullyQualifiedName": "demo_airflow.load_customers.extract",
      "description": "Copy changed staging rows.",
      "sourceUrl": "http://airflow.internal:8080/dags/load_customers/grid?task_id=extract",
      "downstreamTasks": [
        "transform"
      ],
      "taskType": "SQLExecuteQueryOperator",
      "taskSQL": "CANARY-OM-TASKSQL-01 INSERT INTO staging.stg_customers SELECT * FROM src.customers WHERE updated_at > '2024-11-30'",
      "tags": [],
      "owners": []
    },
    {
      "name": "transform",
      "displayName": "Transform",
      "fullyQualifiedName": "demo_airflow.load_customers.transform",
      "description": "Merge into sales.customers.",
      "sourceUrl": "http://airflow.internal:8080/dags/load_customers/grid?task_id=transform",
      "downstreamTasks": [],
      "taskType": "SQLExecuteQueryOperator",
      "taskSQL": "CANARY-OM-TASKSQL-02 MERGE INTO sales.customers USING staging.stg_customers ON (customer_id)",
      "tags": [],
      "owners": []
    }
  ],
  "pipelineStatus": {
    "timestamp": 1733022000000,
    "executionStatus": "Successful",
    "taskStatus": [
      {
        "name": "extract",
        "executionStatus": "Successful",
        "startTime": 1733022000000,
        "endTime": 1733022060000,
        "logLink": "http://airflow.internal:8080/log?task_id=extract"
      },
      {
        "name": "transform",
        "executionStatus": "Successful",
        "startTime": 1733022060000,
        "endTime": 1733022300000,
        "logLink": "http://airflow.internal:8080/log?task_id=transform"
      }
    ]
  },
  "state": "Active",
  "followers": [],
  "tags": [],
  "owners": [
    {
      "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
      "type": "team",
      "name": "sales-data",
      "fullyQualifiedName": "sales-data",
      "displayName": "Sales Data Team",
      "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
      "deleted": false
    }
  ],
  "service": {
    "id": "0645910b-bb6d-43ae-8a29-761379b860c9",
    "type": "pipelineService",
    "name": "demo_airflow",
    "fullyQualifiedName": "demo_airflow",
    "href": "http://openmetadata.internal:8585/api/v1/services/pipelineServices/0645910b-bb6d-43ae-8a29-761379b860c9",
    "deleted": false
  },
  "serviceType": "Airflow",
  "scheduleInterval": "0 3 * * *",
  "deleted": false
};

/** GET /api/v1/lineage/table/{id} — EntityLineage with lineageDetails.sqlQuery. */
export const omLineage: JsonObject = {
  "entity": {
    "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
    "type": "table",
    "name": "customers",
    "fullyQualifiedName": "demo_mysql.shop.sales.customers",
    "displayName": "Customers",
    "description": "One row per registered customer of the web shop.",
    "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
    "deleted": false
  },
  "nodes": [
    {
      "id": "a2bb1875-2a11-469d-af2d-26c57b67955c",
      "type": "table",
      "name": "stg_customers",
      "fullyQualifiedName": "demo_mysql.shop.staging.stg_customers",
      "href": "http://openmetadata.internal:8585/api/v1/tables/a2bb1875-2a11-469d-af2d-26c57b67955c",
      "deleted": false
    },
    {
      "id": "539ba663-a812-49f4-9cb7-18d38134f387",
      "type": "table",
      "name": "orders",
      "fullyQualifiedName": "demo_mysql.shop.sales.orders",
      "href": "http://openmetadata.internal:8585/api/v1/tables/539ba663-a812-49f4-9cb7-18d38134f387",
      "deleted": false
    }
  ],
  "upstreamEdges": [
    {
      "fromEntity": "a2bb1875-2a11-469d-af2d-26c57b67955c",
      "toEntity": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
      "lineageDetails": {
        "sqlQuery": "CANARY-OM-LINEAGE-SQL-01 INSERT INTO sales.customers SELECT customer_id, lower(trim(email)) FROM staging.stg_customers WHERE email <> 'x@y.z'",
        "columnsLineage": [
          {
            "fromColumns": [
              "demo_mysql.shop.staging.stg_customers.customer_id"
            ],
            "toColumn": "demo_mysql.shop.sales.customers.customer_id"
          },
          {
            "fromColumns": [
              "demo_mysql.shop.staging.stg_customers.email"
            ],
            "toColumn": "demo_mysql.shop.sales.customers.email",
            "function": "CANARY-OM-LINEAGE-FUNC-01 lower(trim(replace(email, 'jan@', '')))"
          }
        ],
        "pipeline": {
          "id": "f38e0a25-903b-4d3f-b756-36a57e983a50",
          "type": "pipeline",
          "name": "load_customers",
          "fullyQualifiedName": "demo_airflow.load_customers",
          "href": "http://openmetadata.internal:8585/api/v1/pipelines/f38e0a25-903b-4d3f-b756-36a57e983a50",
          "deleted": false
        },
        "source": "QueryLineage",
        "description": "Loaded nightly by load_customers."
      }
    }
  ],
  "downstreamEdges": [
    {
      "fromEntity": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
      "toEntity": "539ba663-a812-49f4-9cb7-18d38134f387",
      "lineageDetails": {
        "sqlQuery": "CANARY-OM-LINEAGE-SQL-02 CREATE VIEW orders AS SELECT * FROM order_service.orders o JOIN customers c USING (customer_id) WHERE c.signup_date > '2020-01-01'",
        "columnsLineage": [
          {
            "fromColumns": [
              "demo_mysql.shop.sales.customers.customer_id"
            ],
            "toColumn": "demo_mysql.shop.sales.orders.customer_id"
          }
        ],
        "source": "ViewLineage"
      }
    }
  ]
};

/** GET /api/v1/lineage/getLineage — SearchLineageResult (search documents and edge SQL). */
export const omLineageSearch: JsonObject = {
  "nodes": {
    "demo_mysql.shop.sales.customers": {
      "entity": {
        "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
        "name": "customers",
        "displayName": "Customers",
        "fullyQualifiedName": "demo_mysql.shop.sales.customers",
        "description": "One row per registered customer of the web shop.",
        "entityType": "table",
        "tableType": "Regular",
        "deleted": false,
        "columns": [
          {
            "name": "customer_id",
            "dataType": "BIGINT",
            "fullyQualifiedName": "demo_mysql.shop.sales.customers.customer_id"
          },
          {
            "name": "email",
            "dataType": "VARCHAR",
            "fullyQualifiedName": "demo_mysql.shop.sales.customers.email"
          }
        ],
        "owners": [
          {
            "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
            "type": "team",
            "name": "sales-data",
            "fullyQualifiedName": "sales-data",
            "displayName": "Sales Data Team",
            "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
            "deleted": false
          }
        ],
        "service": {
          "id": "f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "type": "databaseService",
          "name": "demo_mysql",
          "fullyQualifiedName": "demo_mysql",
          "href": "http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "deleted": false
        },
        "tags": [
          {
            "tagFQN": "Tier.Tier1",
            "name": "Tier1",
            "description": "Critical source of truth.",
            "source": "Classification",
            "labelType": "Manual",
            "state": "Confirmed"
          }
        ]
      },
      "paging": {
        "entityUpstreamCount": 2,
        "entityDownstreamCount": 1
      },
      "nodeDepth": 0
    },
    "demo_mysql.shop.staging.stg_customers": {
      "entity": {
        "id": "a2bb1875-2a11-469d-af2d-26c57b67955c",
        "name": "stg_customers",
        "fullyQualifiedName": "demo_mysql.shop.staging.stg_customers",
        "entityType": "table",
        "tableType": "Regular",
        "deleted": false,
        "service": {
          "id": "f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "type": "databaseService",
          "name": "demo_mysql",
          "fullyQualifiedName": "demo_mysql",
          "href": "http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "deleted": false
        }
      },
      "paging": {
        "entityUpstreamCount": 0,
        "entityDownstreamCount": 1
      },
      "nodeDepth": -1
    },
    "demo_mysql.shop.sales.refresh_customers": {
      "entity": {
        "id": "36db5266-41a6-46e7-a40c-2de31451c52a",
        "name": "refresh_customers",
        "fullyQualifiedName": "demo_mysql.shop.sales.refresh_customers",
        "entityType": "storedProcedure",
        "deleted": false,
        "storedProcedureCode": {
          "language": "SQL",
          "code": "CANARY-OM-STOREDPROC-CODE-01 CREATE PROCEDURE refresh_customers() BEGIN DELETE FROM customers WHERE email = 'gdpr@erase.example'; END"
        }
      },
      "paging": {
        "entityUpstreamCount": 0,
        "entityDownstreamCount": 1
      },
      "nodeDepth": -1
    },
    "demo_mysql.shop.sales.orders": {
      "entity": {
        "id": "539ba663-a812-49f4-9cb7-18d38134f387",
        "name": "orders",
        "fullyQualifiedName": "demo_mysql.shop.sales.orders",
        "entityType": "table",
        "tableType": "View",
        "deleted": false,
        "service": {
          "id": "f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "type": "databaseService",
          "name": "demo_mysql",
          "fullyQualifiedName": "demo_mysql",
          "href": "http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
          "deleted": false
        }
      },
      "paging": {
        "entityUpstreamCount": 1,
        "entityDownstreamCount": 0
      },
      "nodeDepth": 1
    }
  },
  "upstreamEdges": {
    "a2bb1875-2a11-469d-af2d-26c57b67955c-->c019434d-4146-4bc8-9c53-d0c56cdd7ac9": {
      "fromEntity": {
        "id": "a2bb1875-2a11-469d-af2d-26c57b67955c",
        "type": "table",
        "fullyQualifiedName": "demo_mysql.shop.staging.stg_customers",
        "fqnHash": "a.4.7.d"
      },
      "toEntity": {
        "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
        "type": "table",
        "fullyQualifiedName": "demo_mysql.shop.sales.customers",
        "fqnHash": "a.4.5.9"
      },
      "pipeline": {
        "id": "f38e0a25-903b-4d3f-b756-36a57e983a50",
        "type": "pipeline",
        "name": "load_customers",
        "fullyQualifiedName": "demo_airflow.load_customers"
      },
      "pipelineEntityType": "pipeline",
      "sqlQuery": "CANARY-OM-SEARCHLINEAGE-SQL-01 INSERT INTO sales.customers SELECT * FROM staging.stg_customers WHERE email <> 'x@y.z'",
      "columns": [
        {
          "fromColumns": [
            "demo_mysql.shop.staging.stg_customers.email"
          ],
          "toColumn": "demo_mysql.shop.sales.customers.email",
          "function": "CANARY-OM-SEARCHLINEAGE-FUNC-01 lower(email)"
        }
      ],
      "source": "QueryLineage",
      "docUniqueId": "a2bb1875-2a11-469d-af2d-26c57b67955c-->c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
      "createdAt": 1733040000000,
      "createdBy": "ingestion-bot",
      "updatedAt": 1733040000000,
      "updatedBy": "ingestion-bot"
    },
    "36db5266-41a6-46e7-a40c-2de31451c52a-->c019434d-4146-4bc8-9c53-d0c56cdd7ac9": {
      "fromEntity": {
        "id": "36db5266-41a6-46e7-a40c-2de31451c52a",
        "type": "storedProcedure",
        "fullyQualifiedName": "demo_mysql.shop.sales.refresh_customers",
        "fqnHash": "a.4.5.11"
      },
      "toEntity": {
        "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
        "type": "table",
        "fullyQualifiedName": "demo_mysql.shop.sales.customers",
        "fqnHash": "a.4.5.9"
      },
      "sqlQuery": "CANARY-OM-SEARCHLINEAGE-SQL-02 DELETE FROM customers WHERE email = 'gdpr@erase.example'",
      "columns": [],
      "source": "QueryLineage",
      "docUniqueId": "36db5266-41a6-46e7-a40c-2de31451c52a-->c019434d-4146-4bc8-9c53-d0c56cdd7ac9"
    }
  },
  "downstreamEdges": {
    "c019434d-4146-4bc8-9c53-d0c56cdd7ac9-->539ba663-a812-49f4-9cb7-18d38134f387": {
      "fromEntity": {
        "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
        "type": "table",
        "fullyQualifiedName": "demo_mysql.shop.sales.customers",
        "fqnHash": "a.4.5.9"
      },
      "toEntity": {
        "id": "539ba663-a812-49f4-9cb7-18d38134f387",
        "type": "table",
        "fullyQualifiedName": "demo_mysql.shop.sales.orders",
        "fqnHash": "a.4.5.6"
      },
      "sqlQuery": "CANARY-OM-SEARCHLINEAGE-SQL-03 CREATE VIEW orders AS SELECT * FROM order_service.orders",
      "columns": [
        {
          "fromColumns": [
            "demo_mysql.shop.sales.customers.customer_id"
          ],
          "toColumn": "demo_mysql.shop.sales.orders.customer_id"
        }
      ],
      "source": "ViewLineage",
      "docUniqueId": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9-->539ba663-a812-49f4-9cb7-18d38134f387"
    }
  }
};

/** GET /api/v1/usage/table/{id} — EntityUsage. */
export const omUsage: JsonObject = {
  "entity": {
    "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
    "type": "table",
    "name": "customers",
    "fullyQualifiedName": "demo_mysql.shop.sales.customers",
    "displayName": "Customers",
    "description": "One row per registered customer of the web shop.",
    "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
    "deleted": false
  },
  "usage": [
    {
      "date": "2024-12-01",
      "dailyStats": {
        "count": 42,
        "percentileRank": 87.5
      },
      "weeklyStats": {
        "count": 301,
        "percentileRank": 91.2
      },
      "monthlyStats": {
        "count": 1204,
        "percentileRank": 93
      }
    },
    {
      "date": "2024-11-30",
      "dailyStats": {
        "count": 38,
        "percentileRank": 85
      },
      "weeklyStats": {
        "count": 290,
        "percentileRank": 90.4
      },
      "monthlyStats": {
        "count": 1190,
        "percentileRank": 92.8
      }
    }
  ]
};

/** GET /api/v1/tables/{id}/versions — EntityHistory; each version is a JSON string. */
export const omTableVersions: JsonObject = {
  "entityType": "table",
  "versions": [
    "{\"id\":\"c019434d-4146-4bc8-9c53-d0c56cdd7ac9\",\"name\":\"customers\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers\",\"description\":\"One row per registered customer of the web shop.\",\"version\":0.3,\"updatedAt\":1733000000300,\"updatedBy\":\"admin\",\"tableType\":\"Regular\",\"columns\":[{\"name\":\"customer_id\",\"dataType\":\"BIGINT\",\"dataTypeDisplay\":\"bigint\",\"description\":\"Surrogate key of the customer.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.customer_id\",\"tags\":[],\"constraint\":\"PRIMARY_KEY\",\"ordinalPosition\":1},{\"name\":\"email\",\"dataType\":\"VARCHAR\",\"dataLength\":255,\"dataTypeDisplay\":\"varchar(255)\",\"description\":\"Contact e-mail address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.email\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":2},{\"name\":\"address\",\"dataType\":\"STRUCT\",\"dataTypeDisplay\":\"struct<street:varchar(120),city:varchar(80),postcode:varchar(7)>\",\"description\":\"Postal address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":3,\"children\":[{\"name\":\"street\",\"dataType\":\"VARCHAR\",\"dataLength\":120,\"dataTypeDisplay\":\"varchar(120)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.street\",\"tags\":[],\"ordinalPosition\":1},{\"name\":\"city\",\"dataType\":\"VARCHAR\",\"dataLength\":80,\"dataTypeDisplay\":\"varchar(80)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.city\",\"tags\":[],\"ordinalPosition\":2},{\"name\":\"postcode\",\"dataType\":\"VARCHAR\",\"dataLength\":7,\"dataTypeDisplay\":\"varchar(7)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.postcode\",\"tags\":[],\"ordinalPosition\":3}]},{\"name\":\"signup_date\",\"dataType\":\"DATE\",\"dataTypeDisplay\":\"date\",\"description\":\"Day the customer registered.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.signup_date\",\"tags\":[],\"ordinalPosition\":4}],\"owners\":[{\"id\":\"7242dd59-ac91-42de-8c4f-54920af1bef2\",\"type\":\"team\",\"name\":\"sales-data\",\"fullyQualifiedName\":\"sales-data\",\"displayName\":\"Sales Data Team\",\"href\":\"http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2\",\"deleted\":false}],\"databaseSchema\":{\"id\":\"bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"type\":\"databaseSchema\",\"name\":\"sales\",\"fullyQualifiedName\":\"demo_mysql.shop.sales\",\"href\":\"http://openmetadata.internal:8585/api/v1/databaseSchemas/bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"deleted\":false},\"database\":{\"id\":\"8a880513-5c61-495e-a1df-516d1bcb90b9\",\"type\":\"database\",\"name\":\"shop\",\"fullyQualifiedName\":\"demo_mysql.shop\",\"href\":\"http://openmetadata.internal:8585/api/v1/databases/8a880513-5c61-495e-a1df-516d1bcb90b9\",\"deleted\":false},\"service\":{\"id\":\"f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"type\":\"databaseService\",\"name\":\"demo_mysql\",\"fullyQualifiedName\":\"demo_mysql\",\"href\":\"http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"deleted\":false},\"serviceType\":\"Mysql\",\"tags\":[{\"tagFQN\":\"Tier.Tier1\",\"name\":\"Tier1\",\"description\":\"Critical source of truth.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"schemaDefinition\":\"CANARY-OM-VERSIONS-SCHEMADEF-03 CREATE TABLE customers (...)\",\"dataModel\":{\"modelType\":\"DBT\",\"path\":\"models/sales/customers.sql\",\"sql\":\"CANARY-OM-VERSIONS-DBTSQL-03 select * from stg_customers where email <> 'a@b.c'\",\"upstream\":[\"model.shop.stg_customers\"]},\"deleted\":false}",
    "{\"id\":\"c019434d-4146-4bc8-9c53-d0c56cdd7ac9\",\"name\":\"customers\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers\",\"description\":\"One row per registered customer of the web shop.\",\"version\":0.2,\"updatedAt\":1733000000200,\"updatedBy\":\"admin\",\"tableType\":\"Regular\",\"columns\":[{\"name\":\"customer_id\",\"dataType\":\"BIGINT\",\"dataTypeDisplay\":\"bigint\",\"description\":\"Surrogate key of the customer.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.customer_id\",\"tags\":[],\"constraint\":\"PRIMARY_KEY\",\"ordinalPosition\":1},{\"name\":\"email\",\"dataType\":\"VARCHAR\",\"dataLength\":255,\"dataTypeDisplay\":\"varchar(255)\",\"description\":\"Contact e-mail address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.email\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":2},{\"name\":\"address\",\"dataType\":\"STRUCT\",\"dataTypeDisplay\":\"struct<street:varchar(120),city:varchar(80),postcode:varchar(7)>\",\"description\":\"Postal address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":3,\"children\":[{\"name\":\"street\",\"dataType\":\"VARCHAR\",\"dataLength\":120,\"dataTypeDisplay\":\"varchar(120)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.street\",\"tags\":[],\"ordinalPosition\":1},{\"name\":\"city\",\"dataType\":\"VARCHAR\",\"dataLength\":80,\"dataTypeDisplay\":\"varchar(80)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.city\",\"tags\":[],\"ordinalPosition\":2},{\"name\":\"postcode\",\"dataType\":\"VARCHAR\",\"dataLength\":7,\"dataTypeDisplay\":\"varchar(7)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.postcode\",\"tags\":[],\"ordinalPosition\":3}]},{\"name\":\"signup_date\",\"dataType\":\"DATE\",\"dataTypeDisplay\":\"date\",\"description\":\"Day the customer registered.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.signup_date\",\"tags\":[],\"ordinalPosition\":4}],\"owners\":[{\"id\":\"7242dd59-ac91-42de-8c4f-54920af1bef2\",\"type\":\"team\",\"name\":\"sales-data\",\"fullyQualifiedName\":\"sales-data\",\"displayName\":\"Sales Data Team\",\"href\":\"http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2\",\"deleted\":false}],\"databaseSchema\":{\"id\":\"bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"type\":\"databaseSchema\",\"name\":\"sales\",\"fullyQualifiedName\":\"demo_mysql.shop.sales\",\"href\":\"http://openmetadata.internal:8585/api/v1/databaseSchemas/bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"deleted\":false},\"database\":{\"id\":\"8a880513-5c61-495e-a1df-516d1bcb90b9\",\"type\":\"database\",\"name\":\"shop\",\"fullyQualifiedName\":\"demo_mysql.shop\",\"href\":\"http://openmetadata.internal:8585/api/v1/databases/8a880513-5c61-495e-a1df-516d1bcb90b9\",\"deleted\":false},\"service\":{\"id\":\"f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"type\":\"databaseService\",\"name\":\"demo_mysql\",\"fullyQualifiedName\":\"demo_mysql\",\"href\":\"http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"deleted\":false},\"serviceType\":\"Mysql\",\"tags\":[{\"tagFQN\":\"Tier.Tier1\",\"name\":\"Tier1\",\"description\":\"Critical source of truth.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"schemaDefinition\":\"CANARY-OM-VERSIONS-SCHEMADEF-02 CREATE TABLE customers (...)\",\"dataModel\":{\"modelType\":\"DBT\",\"path\":\"models/sales/customers.sql\",\"sql\":\"CANARY-OM-VERSIONS-DBTSQL-02 select * from stg_customers\",\"upstream\":[\"model.shop.stg_customers\"]},\"deleted\":false}",
    "{\"id\":\"c019434d-4146-4bc8-9c53-d0c56cdd7ac9\",\"name\":\"customers\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers\",\"description\":\"One row per registered customer of the web shop.\",\"version\":0.1,\"updatedAt\":1733000000100,\"updatedBy\":\"admin\",\"tableType\":\"Regular\",\"columns\":[{\"name\":\"customer_id\",\"dataType\":\"BIGINT\",\"dataTypeDisplay\":\"bigint\",\"description\":\"Surrogate key of the customer.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.customer_id\",\"tags\":[],\"constraint\":\"PRIMARY_KEY\",\"ordinalPosition\":1},{\"name\":\"email\",\"dataType\":\"VARCHAR\",\"dataLength\":255,\"dataTypeDisplay\":\"varchar(255)\",\"description\":\"Contact e-mail address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.email\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":2},{\"name\":\"address\",\"dataType\":\"STRUCT\",\"dataTypeDisplay\":\"struct<street:varchar(120),city:varchar(80),postcode:varchar(7)>\",\"description\":\"Postal address.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address\",\"tags\":[{\"tagFQN\":\"PII.Sensitive\",\"name\":\"Sensitive\",\"description\":\"Personal data.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"ordinalPosition\":3,\"children\":[{\"name\":\"street\",\"dataType\":\"VARCHAR\",\"dataLength\":120,\"dataTypeDisplay\":\"varchar(120)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.street\",\"tags\":[],\"ordinalPosition\":1},{\"name\":\"city\",\"dataType\":\"VARCHAR\",\"dataLength\":80,\"dataTypeDisplay\":\"varchar(80)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.city\",\"tags\":[],\"ordinalPosition\":2},{\"name\":\"postcode\",\"dataType\":\"VARCHAR\",\"dataLength\":7,\"dataTypeDisplay\":\"varchar(7)\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.address.postcode\",\"tags\":[],\"ordinalPosition\":3}]},{\"name\":\"signup_date\",\"dataType\":\"DATE\",\"dataTypeDisplay\":\"date\",\"description\":\"Day the customer registered.\",\"fullyQualifiedName\":\"demo_mysql.shop.sales.customers.signup_date\",\"tags\":[],\"ordinalPosition\":4}],\"owners\":[{\"id\":\"7242dd59-ac91-42de-8c4f-54920af1bef2\",\"type\":\"team\",\"name\":\"sales-data\",\"fullyQualifiedName\":\"sales-data\",\"displayName\":\"Sales Data Team\",\"href\":\"http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2\",\"deleted\":false}],\"databaseSchema\":{\"id\":\"bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"type\":\"databaseSchema\",\"name\":\"sales\",\"fullyQualifiedName\":\"demo_mysql.shop.sales\",\"href\":\"http://openmetadata.internal:8585/api/v1/databaseSchemas/bfe7a4c9-6552-4a13-a432-1f8aff26c9ab\",\"deleted\":false},\"database\":{\"id\":\"8a880513-5c61-495e-a1df-516d1bcb90b9\",\"type\":\"database\",\"name\":\"shop\",\"fullyQualifiedName\":\"demo_mysql.shop\",\"href\":\"http://openmetadata.internal:8585/api/v1/databases/8a880513-5c61-495e-a1df-516d1bcb90b9\",\"deleted\":false},\"service\":{\"id\":\"f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"type\":\"databaseService\",\"name\":\"demo_mysql\",\"fullyQualifiedName\":\"demo_mysql\",\"href\":\"http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e\",\"deleted\":false},\"serviceType\":\"Mysql\",\"tags\":[{\"tagFQN\":\"Tier.Tier1\",\"name\":\"Tier1\",\"description\":\"Critical source of truth.\",\"source\":\"Classification\",\"labelType\":\"Manual\",\"state\":\"Confirmed\"}],\"schemaDefinition\":\"CANARY-OM-VERSIONS-SCHEMADEF-01 CREATE TABLE customers (...)\",\"dataModel\":{\"modelType\":\"DBT\",\"path\":\"models/sales/customers.sql\",\"sql\":\"CANARY-OM-VERSIONS-DBTSQL-01 select 1\",\"upstream\":[\"model.shop.stg_customers\"]},\"deleted\":false}"
  ]
};

/** GET /api/v1/tables/{id}/versions/0.2 — one stored version. */
export const omTableVersion: JsonObject = {
  "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
  "name": "customers",
  "fullyQualifiedName": "demo_mysql.shop.sales.customers",
  "description": "One row per registered customer of the web shop.",
  "version": 0.2,
  "updatedAt": 1733000000200,
  "updatedBy": "admin",
  "tableType": "Regular",
  "columns": [
    {
      "name": "customer_id",
      "dataType": "BIGINT",
      "dataTypeDisplay": "bigint",
      "description": "Surrogate key of the customer.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.customer_id",
      "tags": [],
      "constraint": "PRIMARY_KEY",
      "ordinalPosition": 1
    },
    {
      "name": "email",
      "dataType": "VARCHAR",
      "dataLength": 255,
      "dataTypeDisplay": "varchar(255)",
      "description": "Contact e-mail address.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.email",
      "tags": [
        {
          "tagFQN": "PII.Sensitive",
          "name": "Sensitive",
          "description": "Personal data.",
          "source": "Classification",
          "labelType": "Manual",
          "state": "Confirmed"
        }
      ],
      "ordinalPosition": 2
    },
    {
      "name": "address",
      "dataType": "STRUCT",
      "dataTypeDisplay": "struct<street:varchar(120),city:varchar(80),postcode:varchar(7)>",
      "description": "Postal address.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.address",
      "tags": [
        {
          "tagFQN": "PII.Sensitive",
          "name": "Sensitive",
          "description": "Personal data.",
          "source": "Classification",
          "labelType": "Manual",
          "state": "Confirmed"
        }
      ],
      "ordinalPosition": 3,
      "children": [
        {
          "name": "street",
          "dataType": "VARCHAR",
          "dataLength": 120,
          "dataTypeDisplay": "varchar(120)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.street",
          "tags": [],
          "ordinalPosition": 1
        },
        {
          "name": "city",
          "dataType": "VARCHAR",
          "dataLength": 80,
          "dataTypeDisplay": "varchar(80)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.city",
          "tags": [],
          "ordinalPosition": 2
        },
        {
          "name": "postcode",
          "dataType": "VARCHAR",
          "dataLength": 7,
          "dataTypeDisplay": "varchar(7)",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers.address.postcode",
          "tags": [],
          "ordinalPosition": 3
        }
      ]
    },
    {
      "name": "signup_date",
      "dataType": "DATE",
      "dataTypeDisplay": "date",
      "description": "Day the customer registered.",
      "fullyQualifiedName": "demo_mysql.shop.sales.customers.signup_date",
      "tags": [],
      "ordinalPosition": 4
    }
  ],
  "owners": [
    {
      "id": "7242dd59-ac91-42de-8c4f-54920af1bef2",
      "type": "team",
      "name": "sales-data",
      "fullyQualifiedName": "sales-data",
      "displayName": "Sales Data Team",
      "href": "http://openmetadata.internal:8585/api/v1/teams/7242dd59-ac91-42de-8c4f-54920af1bef2",
      "deleted": false
    }
  ],
  "databaseSchema": {
    "id": "bfe7a4c9-6552-4a13-a432-1f8aff26c9ab",
    "type": "databaseSchema",
    "name": "sales",
    "fullyQualifiedName": "demo_mysql.shop.sales",
    "href": "http://openmetadata.internal:8585/api/v1/databaseSchemas/bfe7a4c9-6552-4a13-a432-1f8aff26c9ab",
    "deleted": false
  },
  "database": {
    "id": "8a880513-5c61-495e-a1df-516d1bcb90b9",
    "type": "database",
    "name": "shop",
    "fullyQualifiedName": "demo_mysql.shop",
    "href": "http://openmetadata.internal:8585/api/v1/databases/8a880513-5c61-495e-a1df-516d1bcb90b9",
    "deleted": false
  },
  "service": {
    "id": "f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
    "type": "databaseService",
    "name": "demo_mysql",
    "fullyQualifiedName": "demo_mysql",
    "href": "http://openmetadata.internal:8585/api/v1/services/databaseServices/f6fd94c8-91d4-4ec5-9243-7fe1830be59e",
    "deleted": false
  },
  "serviceType": "Mysql",
  "tags": [
    {
      "tagFQN": "Tier.Tier1",
      "name": "Tier1",
      "description": "Critical source of truth.",
      "source": "Classification",
      "labelType": "Manual",
      "state": "Confirmed"
    }
  ],
  "schemaDefinition": "CANARY-OM-VERSION-SCHEMADEF-01 CREATE TABLE customers (customer_id BIGINT, email VARCHAR(255) DEFAULT 'old@shop.example')",
  "dataModel": {
    "modelType": "DBT",
    "path": "models/sales/customers.sql",
    "sql": "CANARY-OM-VERSION-DBTSQL-01 select * from stg_customers where email <> 'a@b.c'",
    "upstream": [
      "model.shop.stg_customers"
    ]
  },
  "deleted": false,
  "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9/versions/0.2",
  "tableConstraints": [
    {
      "constraintType": "UNIQUE",
      "columns": [
        "email"
      ]
    }
  ],
  "viewDefinition": "CANARY-OM-VERSION-VIEWDEF-01 SELECT * FROM customers",
  "changeDescription": {
    "fieldsAdded": [],
    "fieldsUpdated": [
      {
        "name": "description",
        "oldValue": "\"CANARY-OM-VERSION-CHANGE-OLD-01 Customers (contains test row jan@example.org)\"",
        "newValue": "\"One row per registered customer of the web shop.\""
      }
    ],
    "fieldsDeleted": [],
    "previousVersion": 0.1
  }
};

/** DATA: GET /api/v1/tables/{id}/sampleData — never routed by the gateway. */
export const omDataTableSampleData: JsonObject = {
  "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
  "name": "customers",
  "fullyQualifiedName": "demo_mysql.shop.sales.customers",
  "columns": [
    {
      "name": "customer_id",
      "dataType": "BIGINT"
    },
    {
      "name": "email",
      "dataType": "VARCHAR"
    },
    {
      "name": "address",
      "dataType": "STRUCT"
    },
    {
      "name": "signup_date",
      "dataType": "DATE"
    }
  ],
  "sampleData": {
    "columns": [
      "customer_id",
      "email",
      "address",
      "signup_date"
    ],
    "rows": [
      [
        "CANARY-OM-DATA-SAMPLEROW-01",
        "CANARY-OM-DATA-SAMPLEROW-02",
        "CANARY-OM-DATA-SAMPLEROW-03",
        "CANARY-OM-DATA-SAMPLEROW-04"
      ],
      [
        "CANARY-OM-DATA-SAMPLEROW-05",
        "CANARY-OM-DATA-SAMPLEROW-06",
        "CANARY-OM-DATA-SAMPLEROW-07",
        "CANARY-OM-DATA-SAMPLEROW-08"
      ]
    ]
  }
};

/** DATA: GET /api/v1/topics/{id}/sampleData — never routed. */
export const omDataTopicSampleData: JsonObject = {
  "id": "39b8e3a2-eac1-4440-b85e-989fa77c1b83",
  "name": "customer_events",
  "fullyQualifiedName": "demo_kafka.customer_events",
  "sampleData": {
    "messages": [
      "{\"customer_id\":\"CANARY-OM-DATA-TOPICMSG-01\",\"event_type\":\"SIGNED_UP\"}"
    ]
  }
};

/** DATA: GET /api/v1/tables/{fqn}/tableProfile/latest — never routed. */
export const omDataTableProfileLatest: JsonObject = {
  "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
  "name": "customers",
  "fullyQualifiedName": "demo_mysql.shop.sales.customers",
  "profile": {
    "timestamp": 1733036400000,
    "columnCount": 4,
    "rowCount": 7340021,
    "sizeInByte": 918273645
  },
  "columns": [
    {
      "name": "email",
      "dataType": "VARCHAR",
      "profile": {
        "name": "email",
        "timestamp": 1733036400000,
        "min": "CANARY-OM-DATA-PROFILE-MIN-01",
        "max": "CANARY-OM-DATA-PROFILE-MAX-01",
        "nullCount": 1618033
      }
    }
  ]
};

/** DATA: GET /api/v1/tables/{fqn}/columnProfile — never routed. */
export const omDataColumnProfile: JsonObject = {
  "data": [
    {
      "name": "email",
      "timestamp": 1733036400000,
      "min": "CANARY-OM-DATA-COLPROFILE-MIN-01",
      "max": "CANARY-OM-DATA-COLPROFILE-MAX-01",
      "valuesCount": 7340021
    }
  ],
  "paging": {
    "total": 1
  }
};

/** DATA: GET /api/v1/queries — never routed. */
export const omDataQueries: JsonObject = {
  "data": [
    {
      "id": "9d1c6a55-0f3e-4b8c-9a7d-2e4f6b8c0d1e",
      "name": "top_customers",
      "fullyQualifiedName": "demo_mysql.top_customers",
      "query": "CANARY-OM-DATA-QUERY-01 SELECT email FROM customers WHERE email = 'minister@minbuza.example'",
      "queryUsedIn": [
        {
          "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
          "type": "table",
          "name": "customers",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers",
          "displayName": "Customers",
          "description": "One row per registered customer of the web shop.",
          "href": "http://openmetadata.internal:8585/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
          "deleted": false
        }
      ],
      "checksum": "5f1e0c1b7c1d4a0e9b3f2a6d8c4e1f00"
    }
  ],
  "paging": {
    "total": 1
  }
};

/** DATA: GET /api/v1/search/query — raw search hits with _source — never routed. */
export const omDataSearchQuery: JsonObject = {
  "took": 3,
  "timed_out": false,
  "hits": {
    "total": {
      "value": 1,
      "relation": "eq"
    },
    "max_score": 1,
    "hits": [
      {
        "_index": "table_search_index",
        "_id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
        "_score": 1,
        "_source": {
          "id": "c019434d-4146-4bc8-9c53-d0c56cdd7ac9",
          "fullyQualifiedName": "demo_mysql.shop.sales.customers",
          "sampleData": {
            "rows": [
              [
                "CANARY-OM-DATA-SEARCHHIT-01"
              ]
            ]
          }
        },
        "highlight": {
          "columns.name": [
            "<span class=\"text-highlighter\">email</span>"
          ]
        }
      }
    ]
  }
};

/** DATA: GET /api/v1/dataQuality/testCases/{id}/failedRowsSample — never routed. */
export const omDataFailedRowsSample: JsonObject = {
  "columns": [
    "customer_id",
    "email"
  ],
  "rows": [
    [
      "CANARY-OM-DATA-FAILEDROW-01",
      "CANARY-OM-DATA-FAILEDROW-02"
    ]
  ]
};

/** Fixture file name (under test/fixtures/openmetadata/) → the object it must equal. */
export const OM_FIXTURE_FILES: Readonly<Record<string, JsonObject>> = {
  'table.json': omTable,
  'tables-list.json': omTablesList,
  'topic.json': omTopic,
  'dashboard-datamodel.json': omDashboardDataModel,
  'pipeline.json': omPipeline,
  'lineage.json': omLineage,
  'lineage-search.json': omLineageSearch,
  'usage.json': omUsage,
  'table-versions.json': omTableVersions,
  'table-version.json': omTableVersion,
};
