// The two-phase-commit coordinator on Azure: src/Serverless.Functions (a .NET 10 isolated-worker Durable Functions
// app) on a Linux function app on the Flex Consumption plan, its storage (the protocol's queues and tables
// pre-created, no shared key), monitoring, and a user-assigned identity that holds only the storage data roles the
// Functions host, the Durable Task extension and the app need. With externalParticipants, also each external
// participant's own function app (modules/participant-app.bicep), with access to its three queues and its own key.
// With httpParticipants, the coordinator's settings for participants other teams run as HTTP services, and their keys.
// Deploy: see infra/README.md.

targetScope = 'resourceGroup'

import { isParticipantName, participantInboxQueue } from 'modules/participant-names.bicep'

@description('A branch kind a participant run outside the coordinator\'s app takes (PARTICIPANT_{NAME}_KINDS): 2pc (prepare, commit, rollback) or tcc (Try, Confirm, Cancel). Saga branches are the app\'s own (payments).')
type participantKind = '2pc' | 'tcc'

@description('A participant that runs in its own function app (another team\'s), built on the participant kit.')
@sealed()
type externalParticipant = {
  @description('Its name, as in TRANSACTIONS_PARTICIPANTS and its inbox queue tx-participant-{name}: lower-case letters, digits and inner hyphens (never two in a row), at most 40 characters.')
  @minLength(1)
  @maxLength(40)
  name: string

  @description('PARTICIPANT_{NAME}_KINDS in the coordinator\'s app: the branch kinds the coordinator lets a transaction give it, e.g. [\'2pc\']. Default: the app\'s default, 2pc and tcc (the setting is not written).')
  @minLength(1)
  kinds: participantKind[]?

  @description('Further app settings of its app (name to string value), kept here so that a redeployment does not drop them. Default none.')
  appSettings: object?

  @description('Flex Consumption: the most instances its app may scale out to. Default 100.')
  @minValue(40)
  @maxValue(1000)
  maximumInstanceCount: int?

  @description('Flex Consumption: memory of each instance of its app in MB. Default 2048.')
  instanceMemoryMB: (512 | 2048 | 4096)?
}

@description('A participant in any language that another team runs as an HTTP service (docs/participants.md, "Transport 2"), e.g. loyalty. Only the coordinator\'s side is deployed here: its settings and its key.')
@sealed()
type httpParticipant = {
  @description('Its name, as transactions name it: lower-case letters, digits and inner hyphens (never two in a row), at most 40 characters.')
  @minLength(1)
  @maxLength(40)
  name: string

  @description('PARTICIPANT_{NAME}_URL: where the coordinator posts its signed commands, an absolute https URL (e.g. \'https://loyalty.example.com/tx\').')
  @minLength(9)
  url: string

  @description('PARTICIPANT_{NAME}_KINDS: the branch kinds it takes, e.g. [\'tcc\']. Default: the app\'s default, 2pc and tcc (the setting is not written).')
  @minLength(1)
  kinds: participantKind[]?
}

@description('Short prefix for every resource name: lower-case letters and digits, optionally with inner hyphens (e.g. "tx2pc"). A hash of the resource group makes the globally unique names unique.')
@minLength(2)
@maxLength(12)
param namePrefix string

@description('Azure region of every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations). Default: the resource group\'s region.')
param location string = resourceGroup().location

@description('Participants the coordinator knows, as in TRANSACTIONS_PARTICIPANTS: each gets its inbox queue tx-participant-{name} (lower-case letters, digits, inner hyphens; at most 40 characters). Default: the four sample participants.')
@minLength(1)
param participants string[] = [
  'bank'
  'inventory'
  'orders'
  'ledger'
]

@description('Participants that run in function apps of their own (infra/README.md, "External participants"), e.g. [{ name: \'shipping\' }]. Each gets its app, identity and storage account, its queues here, its signing key in Key Vault, and is added to TRANSACTIONS_PARTICIPANTS. Default none.')
param externalParticipants externalParticipant[] = []

@description('Participants other teams run as HTTP services, in any language (infra/README.md, "HTTP participants"), e.g. [{ name: \'loyalty\', url: \'https://loyalty.example.com/tx\', kinds: [\'tcc\'] }]. Each gives the coordinator PARTICIPANT_{NAME}_URL, PARTICIPANT_{NAME}_KINDS and its signing key in Key Vault (PARTICIPANT_{NAME}_SIGNING_KEY); the service itself is deployed by its owners, with the same key. No queue: commands go over HTTP. Default none.')
param httpParticipants httpParticipant[] = []

@description('The signing keys of the participants run outside this app, participant name to key (PARTICIPANT_{NAME}_SIGNING_KEY), each at least 32 random characters (openssl rand -base64 48); one for every entry of externalParticipants and of httpParticipants. Each goes into Key Vault; only that participant\'s app (for an external participant) and the coordinator\'s may read it. Default none.')
@secure()
param externalParticipantSigningKeys object = {}

@description('SHIPPING_POSTGRES_CONNECTION: the shipping participant\'s PostgreSQL database in Npgsql form, a setting of the shipping app (an external participant named shipping). Default empty: not set.')
@secure()
param shippingPostgresConnection string = ''

@description('TRANSACTIONS_API_KEY: the API key clients send (x-functions-key header or code query parameter) on every route but /api/health. On Azure the Functions host checks function keys, so after the first code deployment this value is also set as the host\'s function key (infra/README.md, "Deploy"). The app is public on the internet, so it is required here; use at least 32 random characters.')
@secure()
@minLength(32)
param transactionsApiKey string

@description('TRANSACTIONS_SIGNING_KEY: the HMAC key that signs protocol messages on the queues, so a message nobody of ours wrote is never acted on. Use at least 32 random characters (openssl rand -base64 48). It goes into Key Vault; the app setting is a Key Vault reference.')
@secure()
@minLength(32)
param transactionsSigningKey string

@description('TRANSACTIONS_SIGNING_KEYS_PREVIOUS: older signing keys still accepted during a rotation (docs/security.md), comma-separated, each at least 32 characters. Kept in Key Vault like the current key. Default empty: none.')
@secure()
param transactionsSigningKeysPrevious string = ''

@description('ORDERS_POSTGRES_CONNECTION: the orders participant\'s PostgreSQL database in Npgsql form (Host=...;Port=5432;Username=...;Password=...;Database=...;SSL Mode=Require), with max_prepared_transactions > 0. Default empty: the orders participant is not hosted.')
@secure()
param ordersPostgresConnection string = ''

@description('LEDGER_MYSQL_CONNECTION: the ledger participant\'s MySQL database (for example TencentDB for MySQL, Azure Database for MySQL, MariaDB) in MySqlConnector form (Server=...;Port=3306;User ID=...;Password=...;Database=...;SslMode=Required); InnoDB with XA, and a login that may run XA RECOVER. Default empty: the ledger participant is not hosted.')
@secure()
param ledgerMySqlConnection string = ''

@description('PAYMENTS_URL: the base URL of the payment service that saga branches charge and refund over HTTP, an https URL: the app sends it paymentsApiKey (locally the demo service src/Serverless.Payments on http://127.0.0.1:7072). Default empty: no payment service.')
param paymentsUrl string = ''

@description('PAYMENTS_API_KEY: the payment service\'s key, which the app sends as Authorization: Bearer on every call; required, at least 32 characters, when paymentsUrl is set, and ignored without it. It goes into Key Vault; the app setting is a Key Vault reference. Default empty.')
@secure()
param paymentsApiKey string = ''

@description('TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS: the vote deadline of a transaction whose request gives none. Default 30.')
@minValue(1)
@maxValue(3600)
param defaultTimeoutSeconds int = 30

@description('TRANSACTIONS_IN_DOUBT_SCHEDULE: when the timer function ResolveInDoubt runs, as a 6-field NCRONTAB expression (seconds first). Default every minute, as in local.settings.sample.json. Each run starts an instance if none is running, so a sparser schedule (e.g. \'0 */5 * * * *\') lets the app scale to zero in quiet times, at the price of finishing in-doubt branches later.')
@minLength(11)
param inDoubtSchedule string = '0 */1 * * * *'

@description('TRANSACTIONS_IN_DOUBT_SECONDS: how long a prepared branch waits for its decision before ResolveInDoubt asks about it, and the grace after a vote deadline past which an undecided transaction is presumed aborted. Default 60.')
@minValue(1)
@maxValue(86400)
param inDoubtSeconds int = 60

@description('TRANSACTIONS_HISTORY_PURGE_SCHEDULE: when the timer function PurgeHistory runs, as a 6-field NCRONTAB expression (seconds first). Default hourly at minute 17, as in local.settings.sample.json. Each run purges at most 1000 finished transactions older than historyRetention.')
@minLength(11)
param historyPurgeSchedule string = '0 17 * * * *'

@description('TRANSACTIONS_HISTORY_RETENTION: how long a finished (Completed) transaction stays in the task hub, with its decision record, before PurgeHistory purges it; a time span "d.hh:mm:ss" from 01:00:30 (the longest vote deadline plus the local-delivery lease; the app refuses to start with less) to 3650 days. Unfinished, failed and terminated transactions are never purged. A purged transaction leaves a tombstone: its id is never used again. Default 3 days.')
@minLength(8)
param historyRetention string = '3.00:00:00'

@description('Further app settings (name to string value), e.g. TRANSACTIONS_PHASE2_RETRY_SECONDS. Kept here so that a redeployment does not drop them. Default none.')
param additionalAppSettings object = {}

@description('Flex Consumption: the most instances the app may scale out to. Default 100.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Flex Consumption: memory of each instance in MB. Default 2048.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Redundancy of the storage account that holds every transaction\'s state. Default Standard_ZRS: a commit decision survives the loss of a zone (use Standard_LRS where the region has no zones).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSku string = 'Standard_ZRS'

@description('Days Log Analytics keeps the app\'s logs and telemetry. Default 30.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Tags applied to every resource. Default none.')
param tags object = {}

// Globally unique names get a hash of the resource group. Storage account names allow only 3-24 lower-case letters
// and digits; the app name stays within 32 characters, the length the Functions host derives its host id from.
var suffix = uniqueString(resourceGroup().id, namePrefix)
var storageAccountName = take('st${toLower(replace(namePrefix, '-', ''))}${suffix}', 24)
var functionAppName = '${namePrefix}-func-${suffix}'
var keyVaultName = take('kv${toLower(replace(namePrefix, '-', ''))}${suffix}', 24)
var deploymentContainerName = 'app-package'

// The names the app uses (DESIGN.md, "Queues, task hub and tables"). Poison queues are pre-created too, so that
// moving a message there never waits on creating its queue. The Durable task hub's own tables, queues and blob
// containers ({hub}Instances, {hub}History, {hub}-control-NN, {hub}-workitems, {hub}-leases, ...) are not listed:
// the Durable Task extension creates them at start-up.
var inboxQueues = concat(
  [
    'tx-coordinator'
  ],
  map(concat(participants, externalParticipantNames), p => participantInboxQueue(p))
)
var queueNames = concat(inboxQueues, map(inboxQueues, q => '${q}-poison'))
var tableNames = [
  // The sample participants' state.
  'BankAccounts'
  'InventoryItems'
  // The coordinator's decision records, {hub}Decisions for the task hub named in host.json
  // (extensions.durableTask.hubName "TwoPhaseCommit").
  'TwoPhaseCommitDecisions'
]

// The saga participant the app itself runs when PAYMENTS_URL is set (src/Serverless.Functions, PaymentsParticipant.Name).
var paymentsParticipant = 'payments'

// The external participants' names, refused before anything is deployed when one cannot name a queue and a secret,
// is given twice, or is a participant of this app. The compiler checks only their length: Bicep has no patterns.
var checkedExternalParticipantNames = map(
  externalParticipants,
  p =>
    !isParticipantName(p.name)
      ? fail('externalParticipants: \'${p.name}\' is not a participant name: 1-40 lower-case letters, digits and hyphens, neither first nor last, never two in a row (it names the queue tx-participant-${p.name})')
      : contains(participants, p.name)
          ? fail('externalParticipants: \'${p.name}\' is also in participants, which this app hosts itself')
          : p.name == paymentsParticipant && !empty(paymentsUrl)
              ? fail('externalParticipants: \'${p.name}\' is the app\'s own saga participant for the payment service (paymentsUrl)')
              : p.name
)
var externalParticipantNames = length(union(checkedExternalParticipantNames, [])) == length(checkedExternalParticipantNames) ? checkedExternalParticipantNames : fail('externalParticipants names a participant twice')

// The HTTP participants' names, refused the same way; and a URL that is not https. The coordinator posts each command
// with its operation over the internet: the signature proves who wrote it, but only TLS keeps the operation private
// and proves the service is the one named. A name makes their settings and their secret's name, not a queue's.
var checkedHttpParticipantNames = map(
  httpParticipants,
  p =>
    !isParticipantName(p.name)
      ? fail('httpParticipants: \'${p.name}\' is not a participant name: 1-40 lower-case letters, digits and hyphens, neither first nor last, never two in a row')
      : contains(participants, p.name)
          ? fail('httpParticipants: \'${p.name}\' is also in participants, which this app hosts itself')
          : contains(externalParticipantNames, p.name)
              ? fail('httpParticipants: \'${p.name}\' is also in externalParticipants: a participant is reached over HTTP or through its queue, not both')
              : p.name == paymentsParticipant && !empty(paymentsUrl)
                  ? fail('httpParticipants: \'${p.name}\' is the app\'s own saga participant for the payment service (paymentsUrl)')
                  : !isHttpsUrl(p.url)
                      ? fail('httpParticipants: the url of \'${p.name}\' is \'${p.url}\', not an absolute https URL (https://host/path)')
                      : p.name
)
var httpParticipantNames = length(union(checkedHttpParticipantNames, [])) == length(checkedHttpParticipantNames) ? checkedHttpParticipantNames : fail('httpParticipants names a participant twice')

// https://, then a host: no whitespace, no empty host. The app checks the rest at start (an absolute http(s) URL).
func isHttpsUrl(url string) bool =>
  startsWith(toLower(url), 'https://') && !contains(url, ' ') && !contains(['', '/'], take(afterScheme(url), 1))

func afterScheme(url string) string => substring(url, min(length('https://'), length(url)))

// The payment service gets the API key as a bearer token: over https only. Without paymentsUrl there is no key.
var checkedPaymentsUrl = empty(paymentsUrl) || isHttpsUrl(paymentsUrl)
  ? paymentsUrl
  : fail('paymentsUrl is \'${paymentsUrl}\', not an absolute https URL: the app sends the payment service its API key')
var hasPaymentsApiKey = empty(paymentsUrl)
  ? false
  : length(paymentsApiKey) >= 32
      ? true
      : fail('paymentsApiKey is required when paymentsUrl is set, at least 32 characters: the payment service answers 401 without it, and the app does not start')

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${suffix}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: '${namePrefix}-log-${suffix}'
    applicationInsightsName: '${namePrefix}-appi-${suffix}'
    location: location
    retentionInDays: logRetentionDays
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: storageAccountName
    location: location
    sku: storageSku
    queueNames: queueNames
    tableNames: tableNames
    deploymentContainerName: deploymentContainerName
    dataPrincipalId: identity.properties.principalId
    tags: tags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    signingKey: transactionsSigningKey
    previousSigningKeys: transactionsSigningKeysPrevious
    hasPreviousSigningKeys: !empty(transactionsSigningKeysPrevious)
    paymentsApiKey: paymentsApiKey
    hasPaymentsApiKey: hasPaymentsApiKey
    readerPrincipalId: identity.properties.principalId
  }
}

module participantApps 'modules/participant-app.bicep' = [
  for (p, i) in externalParticipants: {
    name: 'participant-${externalParticipantNames[i]}'
    params: {
      participantName: externalParticipantNames[i]
      namePrefix: namePrefix
      location: location
      storageSku: storageSku
      coordinatorStorageAccountName: storage.outputs.name
      coordinatorQueueEndpoint: storage.outputs.queueEndpoint
      keyVaultName: keyVault.outputs.name
      coordinatorPrincipalId: identity.properties.principalId
      signingKey: externalParticipantSigningKeys[?p.name] ?? fail('externalParticipantSigningKeys has no key for the external participant \'${p.name}\'')
      secretAppSettings: p.name == 'shipping' && !empty(shippingPostgresConnection)
        ? {
            SHIPPING_POSTGRES_CONNECTION: shippingPostgresConnection
          }
        : {}
      additionalAppSettings: p.?appSettings ?? {}
      inDoubtSchedule: inDoubtSchedule
      inDoubtSeconds: inDoubtSeconds
      applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
      maximumInstanceCount: p.?maximumInstanceCount ?? 100
      instanceMemoryMB: p.?instanceMemoryMB ?? 2048
      tags: tags
    }
  }
]

// An HTTP participant's key, readable by the coordinator's identity alone: the service is not deployed here, and its
// owners give it the same key (infra/README.md, "HTTP participants").
module httpParticipantKeys 'modules/participant-key.bicep' = [
  for (p, i) in httpParticipants: {
    name: 'participant-${httpParticipantNames[i]}.key'
    params: {
      participantName: httpParticipantNames[i]
      keyVaultName: keyVault.outputs.name
      signingKey: externalParticipantSigningKeys[?p.name] ?? fail('externalParticipantSigningKeys has no key for the HTTP participant \'${p.name}\'')
      readerPrincipalIds: [
        identity.properties.principalId
      ]
    }
  }
]

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: functionAppName
    planName: '${namePrefix}-plan-${suffix}'
    location: location
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    participants: concat(participants, externalParticipantNames)
    externalParticipantEndpoints: [
      for (p, i) in externalParticipants: {
        name: externalParticipantNames[i]
        url: ''
        kinds: union(p.?kinds ?? [], [])
        signingKeySecretUri: participantApps[i].outputs.signingKeySecretUri
      }
    ]
    httpParticipantEndpoints: [
      for (p, i) in httpParticipants: {
        name: httpParticipantNames[i]
        url: p.url
        kinds: union(p.?kinds ?? [], [])
        signingKeySecretUri: httpParticipantKeys[i].outputs.signingKeySecretUri
      }
    ]
    transactionsApiKey: transactionsApiKey
    signingKeySecretUri: keyVault.outputs.signingKeySecretUri
    previousSigningKeysSecretUri: keyVault.outputs.previousSigningKeysSecretUri
    ordersPostgresConnection: ordersPostgresConnection
    ledgerMySqlConnection: ledgerMySqlConnection
    paymentsUrl: checkedPaymentsUrl
    paymentsApiKeySecretUri: keyVault.outputs.paymentsApiKeySecretUri
    defaultTimeoutSeconds: defaultTimeoutSeconds
    inDoubtSchedule: inDoubtSchedule
    inDoubtSeconds: inDoubtSeconds
    historyPurgeSchedule: historyPurgeSchedule
    historyRetention: historyRetention
    additionalAppSettings: additionalAppSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    tags: tags
  }
}

@description('Name of the function app: the target of az functionapp deploy and func azure functionapp publish.')
output functionAppName string = functionApp.outputs.name

@description('Host name of the app; the API is at https://{defaultHostName}/api.')
output defaultHostName string = functionApp.outputs.defaultHostName

@description('Name of the storage account holding the queues, the tables, the task hub and the deployment package.')
output storageAccountName string = storage.outputs.name

@description('Name of the Key Vault holding the signing keys and the payment service\'s key (rotation: docs/security.md).')
output keyVaultName string = keyVault.outputs.name

@description('Client id of the user-assigned identity the app runs as.')
output identityClientId string = identity.properties.clientId

@description('Each external participant\'s function app (the target of az functionapp deploy for its team\'s code) and its identity\'s client id.')
output externalParticipantApps array = [
  for (name, i) in externalParticipantNames: {
    participant: name
    functionAppName: participantApps[i].outputs.functionAppName
    identityClientId: participantApps[i].outputs.identityClientId
  }
]
