// The function app: Linux, Flex Consumption plan, .NET 10 isolated worker (src/Serverless.Functions as published by
// dotnet publish). It runs as the user-assigned identity, and the Functions host, the Durable Task extension, the
// queue trigger and the app reach storage only through it.

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

@description('Participants the coordinator knows (TRANSACTIONS_PARTICIPANTS).')
param participants string[]

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
// - FUNCTIONS_WORKER_RUNTIME=dotnet-isolated is functionAppConfig.runtime below: Flex Consumption rejects the setting.
var appSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    name: 'TRANSACTIONS_PARTICIPANTS'
    value: join(participants, ',')
  }
  {
    name: 'TRANSACTIONS_API_KEY'
    value: transactionsApiKey
  }
  {
    // A Key Vault reference, resolved by the platform with the identity named by keyVaultReferenceIdentity: the key
    // itself is in no app setting, deployment or template.
    name: 'TRANSACTIONS_SIGNING_KEY'
    value: '@Microsoft.KeyVault(SecretUri=${signingKeySecretUri})'
  }
  {
    name: 'TRANSACTIONS_SIGNING_KEYS_PREVIOUS'
    value: empty(previousSigningKeysSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${previousSigningKeysSecretUri})'
  }
  {
    name: 'TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS'
    value: string(defaultTimeoutSeconds)
  }
  {
    // The timer function ResolveInDoubt binds %TRANSACTIONS_IN_DOUBT_SCHEDULE%: without the setting it is in error and never runs.
    name: 'TRANSACTIONS_IN_DOUBT_SCHEDULE'
    value: inDoubtSchedule
  }
  {
    name: 'TRANSACTIONS_IN_DOUBT_SECONDS'
    value: string(inDoubtSeconds)
  }
  {
    // The timer function PurgeHistory binds %TRANSACTIONS_HISTORY_PURGE_SCHEDULE%: without the setting it is in error and never runs.
    name: 'TRANSACTIONS_HISTORY_PURGE_SCHEDULE'
    value: historyPurgeSchedule
  }
  {
    name: 'TRANSACTIONS_HISTORY_RETENTION'
    value: historyRetention
  }
  {
    name: 'ORDERS_POSTGRES_CONNECTION'
    value: ordersPostgresConnection
  }
  {
    name: 'LEDGER_MYSQL_CONNECTION'
    value: ledgerMySqlConnection
  }
  {
    name: 'PAYMENTS_URL'
    value: paymentsUrl
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // Linux.
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    // Key Vault references are resolved with the user-assigned identity (the default would be a system-assigned one).
    keyVaultReferenceIdentity: identityId
    httpsOnly: true
    clientAffinityEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(
        appSettings,
        map(items(additionalAppSettings), s => {
          name: s.key
          value: string(s.value)
        })
      )
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        // The stack Flex Consumption lists for FC1 as dotnet-isolated 10.0 (az functionapp list-flexconsumption-runtimes);
        // it matches the app's net10.0 target framework.
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }
}

output name string = site.name

output defaultHostName string = site.properties.defaultHostName
