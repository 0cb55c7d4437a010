// The function app: Linux, Flex Consumption plan, custom handler runtime (the app is its own HTTP server and the
// Functions host forwards to it). It runs as the user-assigned identity and reaches storage only through it.

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

@description('Storage account for the host, the queues and the tables (identity-based access only).')
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

@description('TRANSACTIONS_SIGNING_KEY.')
@secure()
param transactionsSigningKey string

@description('ORDERS_POSTGRES_CONNECTION (may be empty).')
@secure()
param ordersPostgresConnection string

@description('TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS.')
param defaultTimeoutSeconds int

@description('Further app settings, name to value.')
param additionalAppSettings object

@description('Most instances the app scales out to.')
param maximumInstanceCount int

@description('Memory of each instance in MB.')
param instanceMemoryMB int

@description('Tags applied to every resource.')
param tags object

// The Values of local.settings.sample.json, as Azure needs them. Two differ on purpose:
// - AzureWebJobsStorage is not a connection string here but the identity-based form (account name, managed
//   identity, which identity): no key exists to put in it, since the account refuses shared keys.
// - FUNCTIONS_WORKER_RUNTIME=custom is functionAppConfig.runtime below: Flex Consumption rejects the setting.
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
    name: 'TRANSACTIONS_SIGNING_KEY'
    value: transactionsSigningKey
  }
  {
    name: 'TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS'
    value: string(defaultTimeoutSeconds)
  }
  {
    name: 'ORDERS_POSTGRES_CONNECTION'
    value: ordersPostgresConnection
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
        // Custom handler: host.json's customHandler starts the app's executable and forwards HTTP to it.
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

output name string = site.name

output defaultHostName string = site.properties.defaultHostName
