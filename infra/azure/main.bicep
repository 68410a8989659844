// The registration system on Azure: one Linux Function App running the Rust custom handler
// (`functions/azure-app`, laid out by `scripts/package-azure`), Service Bus queues from
// `servicebus.json` (the same file the emulator reads in `--cloud azure`), PostgreSQL Flexible
// Server, Key Vault for every secret, Storage, Application Insights, and the static site on Static
// Web Apps (its `/api` linked to the app), allowed by the app's CORS too.
//
//   az group create -n registrations -l westeurope
//   az deployment group create -g registrations -f infra/azure/main.bicep -p \
//     postgresAdminPassword=... paypalClientId=... paypalClientSecret=... \
//     sendgridApiKey=... emailFrom='"RustConf" <registrations@example.org>' \
//     mailchimpApiKey=...-us21 mailchimpListId=... fingerprintKey="$(openssl rand -hex 32)"
//   scripts/package-azure && (cd target/azure-app && func azure functionapp publish <app> --custom)
//
// The plan is Elastic Premium (EP1, Linux): custom handlers run on it (as on every plan the custom
// handler documentation names), it keeps an instance warm (no cold start on the payment page), its
// `functionTimeout` may exceed the orchestrator's longest workflow, and it can join a virtual
// network later to reach PostgreSQL privately. The Linux Consumption plan is being retired, and
// whether Flex Consumption runs custom handlers could not be checked here.

@description('Where every resource goes.')
param location string = resourceGroup().location

@description('A short name, unique in Azure, from which every resource is named.')
@minLength(3)
@maxLength(16)
param name string = 'reg${uniqueString(resourceGroup().id)}'

@description('PostgreSQL administrator login (also the application role, for simplicity).')
param postgresAdminLogin string = 'registrations'

@secure()
@description('PostgreSQL administrator password.')
param postgresAdminPassword string

@description('PayPal REST API base URL: the sandbox until the organiser goes live.')
param paypalBaseUrl string = 'https://api-m.sandbox.paypal.com'

param paypalClientId string

@secure()
param paypalClientSecret string

@secure()
param sendgridApiKey string

@description('The confirmation emails\' sender, e.g. "RustConf" <registrations@example.org>.')
param emailFrom string

@secure()
@description('Mailchimp API key; its suffix names the data centre (e.g. -us21).')
param mailchimpApiKey string

@description('The Mailchimp audience (list) id.')
param mailchimpListId string

@secure()
@minLength(32)
@description('The key of the payment function\'s fingerprints of declined addresses, emails and cards (a random string).')
param fingerprintKey string

@allowed(['subscribed', 'pending'])
@description('A new member\'s status: pending sends Mailchimp\'s double opt-in email.')
param mailchimpStatusIfNew string = 'pending'

var serviceBus = loadJsonContent('servicebus.json')
var databaseName = 'registrations'

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: toLower(replace('${name}store', '-', ''))
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
  }
}

var storageConnection = 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${name}-bus'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    minimumTlsVersion: '1.2'
    disableLocalAuth: true
  }
}

// Dead-lettering: a message delivered maxDeliveryCount times goes to the queue's own
// $DeadLetterQueue; so does one whose time to live expires.
resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queue in serviceBus.queues: {
    parent: namespace
    name: queue.name
    properties: {
      lockDuration: queue.lockDuration
      maxDeliveryCount: queue.maxDeliveryCount
      deadLetteringOnMessageExpiration: queue.deadLetteringOnMessageExpiration
      defaultMessageTimeToLive: queue.defaultMessageTimeToLive
    }
  }
]

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: '${name}-db'
  location: location
  sku: { name: 'Standard_B1ms', tier: 'Burstable' }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
}

// The Function App reaches the server over its public endpoint, TLS required (the server's
// default, hence `sslmode=require` in DATABASE_URL); 0.0.0.0 admits Azure's own addresses.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: '${name}-kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
  }
}

var secrets = {
  'database-url': 'postgres://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
  'paypal-client-secret': paypalClientSecret
  'sendgrid-api-key': sendgridApiKey
  'mailchimp-api-key': mailchimpApiKey
  'fingerprint-key': fingerprintKey
}

resource vaultSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for secret in items(secrets): {
    parent: vault
    name: secret.key
    properties: { value: secret.value }
  }
]

// A Key Vault reference: the app setting's value is read from the vault by the platform.
func secretReference(vaultName string, secretName string) string =>
  '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${secretName})'

// The site (`web/`) on Static Web Apps. Its page calls `/api/...` on its own origin: the linked
// backend (Standard tier) forwards those paths to the Function App. The app's CORS admits the
// site's origin too, for a page served from elsewhere.
resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: '${name}-site'
  location: location
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {}
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'elastic'
  sku: { name: 'EP1', tier: 'ElasticPremium' }
  properties: {
    reserved: true
    // What a flood can cost at most: ten instances (Azure's counterpart of a Lambda function's
    // reserved concurrency caps instances, not executions; docs/abuse.md).
    maximumElasticWorkerCount: 10
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: '${name}-app'
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      preWarmedInstanceCount: 1
      functionAppScaleLimit: 10
      cors: {
        allowedOrigins: ['https://${site.properties.defaultHostname}']
        supportCredentials: false
      }
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
        { name: 'AzureWebJobsStorage', value: storageConnection }
        { name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', value: storageConnection }
        { name: 'WEBSITE_CONTENTSHARE', value: toLower('${name}-app') }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        // The bindings' `connection`, by the app's identity (the namespace has no keys).
        { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: '${namespace.name}.servicebus.windows.net' }
        { name: 'DATABASE_URL', value: secretReference(vault.name, 'database-url') }
        { name: 'PAYPAL_BASE_URL', value: paypalBaseUrl }
        { name: 'PAYPAL_CLIENT_ID', value: paypalClientId }
        { name: 'PAYPAL_CLIENT_SECRET', value: secretReference(vault.name, 'paypal-client-secret') }
        { name: 'SENDGRID_BASE_URL', value: 'https://api.sendgrid.com' }
        { name: 'SENDGRID_API_KEY', value: secretReference(vault.name, 'sendgrid-api-key') }
        { name: 'EMAIL_FROM', value: emailFrom }
        { name: 'MAILCHIMP_API_KEY', value: secretReference(vault.name, 'mailchimp-api-key') }
        { name: 'MAILCHIMP_LIST_ID', value: mailchimpListId }
        { name: 'MAILCHIMP_STATUS_IF_NEW', value: mailchimpStatusIfNew }
        // Card testing (docs/abuse.md). The address limit is off: behind Static Web Apps' linked
        // backend the address the app sees may be the proxy's, not the attendee's, and one limit
        // for everyone would let a tester lock every attendee out. Email and card limits apply.
        { name: 'FINGERPRINT_KEY', value: secretReference(vault.name, 'fingerprint-key') }
        { name: 'DECLINE_WINDOW_SECONDS', value: '3600' }
        { name: 'DECLINES_PER_ADDRESS', value: '0' }
        { name: 'DECLINES_PER_EMAIL', value: '5' }
        { name: 'DECLINES_PER_CARD', value: '3' }
      ]
    }
  }
  dependsOn: [vaultSecrets, queues, database, allowAzure]
}

resource siteBackend 'Microsoft.Web/staticSites/linkedBackends@2023-12-01' = {
  parent: site
  name: 'api'
  properties: {
    backendResourceId: app.id
    region: location
  }
}

// Built-in roles: Key Vault Secrets User; Azure Service Bus Data Sender and Data Receiver.
var roles = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
}

resource readSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, app.id, roles.keyVaultSecretsUser)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource sendMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: namespace
  name: guid(namespace.id, app.id, roles.serviceBusDataSender)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
  }
}

resource receiveMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: namespace
  name: guid(namespace.id, app.id, roles.serviceBusDataReceiver)
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
  }
}

output functionAppName string = app.name
output apiUrl string = 'https://${app.properties.defaultHostName}/api'
output siteUrl string = 'https://${site.properties.defaultHostname}'
output staticSiteName string = site.name
