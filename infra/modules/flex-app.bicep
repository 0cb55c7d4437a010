// A Linux function app on its own Flex Consumption plan, running a .NET 10 isolated-worker app as a user-assigned
// identity: the coordinator's app (function-app.bicep) and each external participant's app (participant-app.bicep).
// The identity fetches the deployment package and resolves Key Vault references; the caller decides the settings.

@description('Function app name (globally unique).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('URL of the blob container the deployment package goes to, read with the identity.')
param deploymentContainerUrl string

@description('App settings, name to string value. Secure, because some hold secrets (API key, connection strings): a nested deployment logs the values of parameters that are not.')
@secure()
param appSettings object

@description('Most instances the app scales out to.')
param maximumInstanceCount int

@description('Memory of each instance in MB.')
param instanceMemoryMB int

@description('Tags applied to every resource.')
param tags object

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
      appSettings: map(items(appSettings), s => {
        name: s.key
        value: string(s.value)
      })
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
        // it matches the apps' net10.0 target framework. FUNCTIONS_WORKER_RUNTIME is this, not an app setting.
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }
}

output name string = site.name

output defaultHostName string = site.properties.defaultHostName
