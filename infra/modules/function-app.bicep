// The coordinator's function app: Linux, Flex Consumption plan, .NET 10 isolated worker (src/Serverless.Functions as
// published by dotnet publish), deployed by flex-app.bicep with the settings below. It runs as the user-assigned
// identity, and the Functions host, the Durable Task extension, the queue trigger and the app reach storage only
// through it.

import { keyVaultReference, participantSetting, participantSigningKeySetting } from 'participant-names.bicep'

@description('Function app name (globally unique).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: tells the host and the app which identity to take a token for.')
param identityClientId string

@description('Storage account for the host, the task hub, the queues and the tables (identity-based access only).')
param storageAccountName string

@description('URL of the blob container the deployment package goes to.')
param deploymentContainerUrl string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Participants the coordinator knows (TRANSACTIONS_PARTICIPANTS): those of this app and the external ones.')
param participants string[]

// A participant run outside this app, as the app's ParticipantEndpoints reads it (docs/participants.md).
type participantEndpoint = {
  @description('Its name.')
  name: string

  @description('PARTICIPANT_{NAME}_URL: where its commands are posted; empty for one reached through its inbox queue.')
  url: string

  @description('PARTICIPANT_{NAME}_KINDS: the branch kinds it takes; empty for the app\'s default (2pc and tcc).')
  kinds: string[]

  @description('Versionless URI of the Key Vault secret holding its key (PARTICIPANT_{NAME}_SIGNING_KEY).')
  signingKeySecretUri: string
}

@description('The external participants (function apps of their own, reached through their inbox queues).')
param externalParticipantEndpoints participantEndpoint[]

@description('The HTTP participants (services in any language, reached over HTTP).')
param httpParticipantEndpoints participantEndpoint[]

@description('TRANSACTIONS_API_KEY.')
@secure()
param transactionsApiKey string

@description('Versionless URI of the Key Vault secret holding TRANSACTIONS_SIGNING_KEY.')
param signingKeySecretUri string

@description('Versionless URI of the Key Vault secret holding TRANSACTIONS_SIGNING_KEYS_PREVIOUS, or empty for none.')
param previousSigningKeysSecretUri string

@description('ORDERS_POSTGRES_CONNECTION (may be empty).')
@secure()
param ordersPostgresConnection string

@description('LEDGER_MYSQL_CONNECTION (may be empty).')
@secure()
param ledgerMySqlConnection string

@description('PAYMENTS_URL (may be empty).')
param paymentsUrl string

@description('Versionless URI of the Key Vault secret holding PAYMENTS_API_KEY; there is one whenever paymentsUrl is set (main.bicep checks the key).')
param paymentsApiKeySecretUri string

@description('TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS.')
param defaultTimeoutSeconds int

@description('TRANSACTIONS_IN_DOUBT_SCHEDULE (6-field NCRONTAB).')
param inDoubtSchedule string

@description('TRANSACTIONS_IN_DOUBT_SECONDS.')
param inDoubtSeconds int

@description('TRANSACTIONS_HISTORY_PURGE_SCHEDULE (6-field NCRONTAB).')
param historyPurgeSchedule string

@description('TRANSACTIONS_HISTORY_RETENTION ("d.hh:mm:ss").')
param historyRetention string

@description('Further app settings, name to value.')
param additionalAppSettings object

@description('Most instances the app scales out to.')
param maximumInstanceCount int

@description('Memory of each instance in MB.')
param instanceMemoryMB int

@description('Tags applied to every resource.')
param tags object

// The Values of src/Serverless.Functions/local.settings.sample.json, as Azure needs them. Two differ on purpose:
// - AzureWebJobsStorage is not a connection string here but the identity-based form (account name, managed
//   identity, which identity): no key exists to put in it, since the account refuses shared keys. The Functions
//   host, the Durable Task extension (task hub), the queue triggers and the app's own clients all read this form.
// - FUNCTIONS_WORKER_RUNTIME=dotnet-isolated is functionAppConfig.runtime (flex-app.bicep): Flex Consumption rejects
//   the setting.
var appSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  TRANSACTIONS_PARTICIPANTS: join(participants, ',')
  TRANSACTIONS_API_KEY: transactionsApiKey
  // A Key Vault reference, resolved by the platform with the identity named by keyVaultReferenceIdentity: the key
  // itself is in no app setting, deployment or template.
  TRANSACTIONS_SIGNING_KEY: keyVaultReference(signingKeySecretUri)
  TRANSACTIONS_SIGNING_KEYS_PREVIOUS: empty(previousSigningKeysSecretUri)
    ? ''
    : '@Microsoft.KeyVault(SecretUri=${previousSigningKeysSecretUri})'
  TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS: string(defaultTimeoutSeconds)
  // The timer function ResolveInDoubt binds %TRANSACTIONS_IN_DOUBT_SCHEDULE%: without the setting it is in error and never runs.
  TRANSACTIONS_IN_DOUBT_SCHEDULE: inDoubtSchedule
  TRANSACTIONS_IN_DOUBT_SECONDS: string(inDoubtSeconds)
  // The timer function PurgeHistory binds %TRANSACTIONS_HISTORY_PURGE_SCHEDULE%: without the setting it is in error and never runs.
  TRANSACTIONS_HISTORY_PURGE_SCHEDULE: historyPurgeSchedule
  TRANSACTIONS_HISTORY_RETENTION: historyRetention
  ORDERS_POSTGRES_CONNECTION: ordersPostgresConnection
  LEDGER_MYSQL_CONNECTION: ledgerMySqlConnection
  PAYMENTS_URL: paymentsUrl
  // The payment service answers 401 without it, and the app does not start with PAYMENTS_URL but without it. A Key
  // Vault reference like the signing key's; empty when there is no payment service.
  PAYMENTS_API_KEY: empty(paymentsUrl) ? '' : keyVaultReference(paymentsApiKeySecretUri)
}

// The participants run elsewhere, as the app's ParticipantEndpoints reads them (docs/participants.md):
// - PARTICIPANT_{NAME}_URL for one reached over HTTP: a participant with a URL is known to the app, and its commands
//   are posted there rather than sent to its inbox queue;
// - PARTICIPANT_{NAME}_KINDS, the branch kinds it takes, where given (else the app's default, 2pc and tcc);
// - PARTICIPANT_{NAME}_SIGNING_KEY: the coordinator holds every participant's key ("One key per participant"), the
//   same setting as in the participant's app, a Key Vault reference to the same secret.
var participantEndpoints = concat(externalParticipantEndpoints, httpParticipantEndpoints)
var participantUrlSettings = toObject(
  filter(participantEndpoints, p => !empty(p.url)),
  p => participantSetting(p.name, 'URL'),
  p => p.url
)
var participantKindsSettings = toObject(
  filter(participantEndpoints, p => !empty(p.kinds)),
  p => participantSetting(p.name, 'KINDS'),
  p => join(p.kinds, ',')
)
var participantKeySettings = toObject(
  participantEndpoints,
  p => participantSigningKeySetting(p.name),
  p => keyVaultReference(p.signingKeySecretUri)
)

module app 'flex-app.bicep' = {
  name: '${name}-app'
  params: {
    name: name
    planName: planName
    location: location
    identityId: identityId
    deploymentContainerUrl: deploymentContainerUrl
    appSettings: union(
      additionalAppSettings,
      participantUrlSettings,
      participantKindsSettings,
      participantKeySettings,
      appSettings
    )
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

output name string = app.outputs.name

output defaultHostName string = app.outputs.defaultHostName
