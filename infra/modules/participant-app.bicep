// One external participant: another team's .NET 10 isolated-worker Functions app hosting a queue-triggered participant
// built on the participant kit (docs/participants.md, "Transport 1"), e.g. shipping. It gets:
// - its own user-assigned identity, and its own storage account for its Functions host (keys, timer locks, the
//   deployment package): nothing of the coordinator's host state is shared;
// - the coordinator's queues through the named connection COORDINATOR_STORAGE (identity-based), with only the roles
//   participant-access.bicep grants on its three queues;
// - its own signing key, from Key Vault, which it reads with its identity.

import { keyVaultReference, participantSigningKeySetting } from 'participant-names.bicep'

@description('The participant\'s name (checked by main.bicep).')
param participantName string

@description('Short prefix of every resource name (main.bicep\'s namePrefix).')
param namePrefix string

@description('Azure region.')
param location string

@description('Redundancy of the participant\'s own storage account (main.bicep\'s storageSku).')
param storageSku string

@description('The coordinator\'s storage account, which holds the protocol\'s queues.')
param coordinatorStorageAccountName string

@description('Queue endpoint of the coordinator\'s storage account, ending in a slash.')
param coordinatorQueueEndpoint string

@description('The coordinator\'s Key Vault.')
param keyVaultName string

@description('Principal id of the coordinator app\'s identity, which also reads this participant\'s key.')
param coordinatorPrincipalId string

@description('The participant\'s signing key (PARTICIPANT_{NAME}_SIGNING_KEY), at least 32 characters.')
@secure()
param signingKey string

@description('Settings of this participant\'s own that hold secrets, e.g. SHIPPING_POSTGRES_CONNECTION. Default none.')
@secure()
param secretAppSettings object = {}

@description('Further app settings, name to value. Default none.')
param additionalAppSettings object = {}

@description('TRANSACTIONS_IN_DOUBT_SCHEDULE: when the kit\'s timer function (AskInDoubt in the shipping app) asks about branches held prepared, a 6-field NCRONTAB expression; the coordinator\'s value.')
param inDoubtSchedule string

@description('TRANSACTIONS_IN_DOUBT_SECONDS: how long a prepared branch waits before the kit asks the coordinator about it; the coordinator\'s value.')
param inDoubtSeconds int

@description('Application Insights connection string: the coordinator\'s, so that one transaction\'s trace (traceParent) spans both apps.')
param applicationInsightsConnectionString string

@description('Flex Consumption: the most instances the app may scale out to.')
param maximumInstanceCount int = 100

@description('Flex Consumption: memory of each instance in MB.')
param instanceMemoryMB int = 2048

@description('Tags applied to every resource.')
param tags object

// Names: unique per participant and stable across redeployments. A storage account name is 3-24 lower-case letters
// and digits; a plan's and a site's at most 60 characters.
var suffix = uniqueString(resourceGroup().id, namePrefix, participantName)
var baseName = take('${namePrefix}-${participantName}', 30)
var storageAccountName = '${take('st${toLower(replace(namePrefix, '-', ''))}${replace(participantName, '-', '')}', 11)}${suffix}'
var deploymentContainerName = 'app-package'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${baseName}-id-${suffix}'
  location: location
  tags: tags
}

module access 'participant-access.bicep' = {
  name: 'participant-${participantName}.access'
  params: {
    participantName: participantName
    storageAccountName: coordinatorStorageAccountName
    keyVaultName: keyVaultName
    signingKey: signingKey
    participantPrincipalId: identity.properties.principalId
    coordinatorPrincipalId: coordinatorPrincipalId
  }
}

// The host's own storage: Blob Data Owner for its keys, timer locks and the deployment package, Table Data
// Contributor for its diagnostic events. No queue role: its only queues are the coordinator's.
module storage 'storage.bicep' = {
  name: 'participant-${participantName}.storage'
  params: {
    name: storageAccountName
    location: location
    sku: storageSku
    queueNames: []
    tableNames: []
    deploymentContainerName: deploymentContainerName
    dataPrincipalId: identity.properties.principalId
    dataServices: [
      'blob'
      'table'
    ]
    appDescription: 'participant ${participantName}\'s function app'
    tags: tags
  }
}

var appSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // The connection the participant's queue trigger and the kit name (Connection = "COORDINATOR_STORAGE"): the
  // coordinator's queues, reached with this app's identity. Queues only: no blob or table endpoint is given.
  COORDINATOR_STORAGE__queueServiceUri: coordinatorQueueEndpoint
  COORDINATOR_STORAGE__credential: 'managedidentity'
  COORDINATOR_STORAGE__clientId: identity.properties.clientId
  // Read with this app's identity (keyVaultReferenceIdentity), which may read this one secret and no other.
  '${participantSigningKeySetting(participantName)}': keyVaultReference(access.outputs.signingKeySecretUri)
  // The kit's in-doubt timer function binds %TRANSACTIONS_IN_DOUBT_SCHEDULE%: without the setting it is in error and
  // never runs, and a branch whose decision was lost stays prepared.
  TRANSACTIONS_IN_DOUBT_SCHEDULE: inDoubtSchedule
  TRANSACTIONS_IN_DOUBT_SECONDS: string(inDoubtSeconds)
}

module app 'flex-app.bicep' = {
  name: 'participant-${participantName}.app'
  params: {
    name: '${baseName}-func-${suffix}'
    planName: '${baseName}-plan-${suffix}'
    location: location
    identityId: identity.id
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    appSettings: union(additionalAppSettings, secretAppSettings, appSettings)
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

@description('Name of the participant\'s function app: the target of az functionapp deploy.')
output functionAppName string = app.outputs.name

@description('Client id of the participant app\'s identity.')
output identityClientId string = identity.properties.clientId

@description('Versionless URI of the participant\'s signing key secret.')
output signingKeySecretUri string = access.outputs.signingKeySecretUri
