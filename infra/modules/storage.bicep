// The storage account that holds everything durable: the Durable task hub (the coordinator's orchestrations), the
// decision records, the protocol's queues, the participants' tables, the Functions host's own blobs (locks, keys)
// and the Flex Consumption deployment package. Shared-key access is off, so the only way in is Microsoft Entra ID;
// the app's identity gets the data roles below and nothing else. An external participant's app has an account of its
// own from this module too, for its Functions host alone (participant-app.bicep).

@description('Storage account name: 3-24 lower-case letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Redundancy SKU.')
param sku string

@description('Queues to create.')
param queueNames string[]

@description('Tables to create.')
param tableNames string[]

@description('Blob container the Flex Consumption plan deploys the app package to.')
param deploymentContainerName string

@description('Principal (object) id of the managed identity that gets the data roles.')
param dataPrincipalId string

@description('Which of the data roles below the identity gets, by service: blob, queue, table. Default all three (the coordinator).')
param dataServices string[] = [
  'blob'
  'queue'
  'table'
]

@description('Whose identity it is, for the role assignments\' descriptions.')
param appDescription string = 'the two-phase-commit function app'

@description('Tags applied to every resource.')
param tags object

// Built-in role definition ids (the same in every tenant). Each is the narrowest built-in role that covers what
// its service is used for; see infra/README.md, "Roles".
var dataRoles = [
  {
    // The Functions host keeps its keys and the timer trigger's locks in blobs and creates their containers (the
    // role Microsoft documents for identity-based host storage); the Durable Task extension creates the task hub's
    // containers and takes its partition leases (Blob Data Contributor would do, and Owner includes it); Flex
    // Consumption writes and reads the deployment package.
    name: 'Storage Blob Data Owner'
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
    service: 'blob'
  }
  {
    // Durable's control and work-item queues (created at start-up, messages sent, received, updated, deleted), the
    // queue triggers (receive, delete, create poison queues) and the app (sends commands and poison copies): every
    // queue data action, no account management.
    name: 'Storage Queue Data Contributor'
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
    service: 'queue'
  }
  {
    // Durable's Instances and History tables (created at start-up), the decision records and the participants'
    // state: entity reads, ETag-guarded writes and batches, table creation. The Functions host writes its diagnostic
    // events to tables too.
    name: 'Storage Table Data Contributor'
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
    service: 'table'
  }
]

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: sku
  }
  properties: {
    // No account key works against this account: every caller authenticates with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    accessTier: 'Hot'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

// Scoped to this account alone: the identity can touch no other account in the subscription.
resource dataRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in filter(dataRoles, r => contains(dataServices, r.service)): {
    name: guid(account.id, dataPrincipalId, role.id)
    scope: account
    properties: {
      description: '${role.name} for ${appDescription}'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.id)
      principalId: dataPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = account.name

@description('Blob endpoint, ending in a slash.')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Queue endpoint, ending in a slash: what identity-based connections name as queueServiceUri.')
output queueEndpoint string = account.properties.primaryEndpoints.queue
